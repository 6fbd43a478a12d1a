// rulecheck validates Luister's Prometheus alert rules and Grafana queries with
// Prometheus's own parsers (the code path of `promtool check rules`), without the
// 120 MB promtool build. Usage:
//
//	rulecheck rules FILE...     parse + validate rule files; print the metric names each expr uses (JSON)
//	rulecheck exprs < in.json   parse a JSON list of PromQL expressions; print their metric names (JSON)
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Name    string   `json:"name,omitempty"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error,omitempty"`
}

func metricNames(p parser.Parser, expr string) ([]string, error) {
	node, err := p.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
			seen[vs.Name] = true
		}
		return nil
	})
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rulecheck rules FILE... | rulecheck exprs < list.json")
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var out []result
	failed := false
	switch os.Args[1] {
	case "rules":
		for _, file := range os.Args[2:] {
			groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, p, logger)
			for _, err := range errs {
				fmt.Fprintln(os.Stderr, err)
				failed = true
			}
			if groups == nil {
				continue
			}
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					name := r.Alert
					if name == "" {
						name = r.Record
					}
					names, err := metricNames(p, r.Expr)
					res := result{Expr: r.Expr, Name: name, Metrics: names}
					if err != nil {
						res.Error = err.Error()
						failed = true
					}
					out = append(out, res)
				}
			}
		}
	case "exprs":
		var exprs []string
		data, err := io.ReadAll(os.Stdin)
		if err == nil {
			err = json.Unmarshal(data, &exprs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stdin must be a JSON list of strings:", err)
			os.Exit(2)
		}
		for _, e := range exprs {
			names, err := metricNames(p, e)
			res := result{Expr: e, Metrics: names}
			if err != nil {
				res.Error = err.Error()
				failed = true
			}
			out = append(out, res)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command:", os.Args[1])
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	if failed {
		os.Exit(1)
	}
}
