"""The bundled models of `atelier models ls --json` (read from the file named), one line
each: NAME KIND PATH ARGS. KIND is the recipe that trains it again: johnson (ARGS: its
style), cin (its styles), adain, wct (its levels), or unknown. Every kind but johnson
takes a --style when applied."""
import json
import sys

for m in json.load(open(sys.argv[1])):
    if m["kind"] != "bundled":
        continue
    arb, info = m.get("arbitrary"), m.get("info") or {}
    norm = json.dumps(info.get("arch", {}).get("norm"))
    if arb:
        kind, args = arb["method"], sorted(arb.get("decoders", {}), key=int)
    elif "conditional" in norm:
        kind, args = "cin", m["style_names"]
    elif norm in ('"instance"', '"batch"'):
        kind, args = "johnson", m["style_names"]
    else:
        kind, args = "unknown", [norm.replace(" ", "")]
    print(m["name"], kind, m["path"], *args)
