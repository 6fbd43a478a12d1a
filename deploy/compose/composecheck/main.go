// composecheck loads a Compose file the way `docker compose config` does (compose-spec/compose-go:
// schema validation, interpolation, merging, consistency checks) and prints the resolved
// project, without needing the Docker Compose plugin. Used by tests/test_ops_deploy.py.
//
//	composecheck [-profile NAME]... FILE...    (COMPOSE_PROFILES=* checks every profile)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var chosen profiles
	flag.Var(&chosen, "profile", "enable this profile (repeatable; * for all)")
	flag.Parse()
	opts, err := cli.NewProjectOptions(flag.Args(),
		cli.WithOsEnv, cli.WithDotEnv, cli.WithDefaultProfiles(), cli.WithProfiles(chosen),
		cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
