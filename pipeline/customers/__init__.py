"""Customer state and triage: linked identities, history, repeated negativity, personas.

Pure logic here (registry, state, story, repeated, persona, judge, profile_doc); the Faust
wiring is pipeline/stages/customers.py and the registry follower pipeline/customers/follower.py.
"""
