#!/usr/bin/env bash
# Rebuilds the default bundle shipped in edge_kws/models/default from synthetic speech only.
# Needs: pip install -e '.[train]' and espeak-ng + flite (apt-get install espeak-ng flite).
set -euo pipefail
cd "$(dirname "$0")/.."
COMMANDS=yes,no,up,down,left,right,on,off,stop,go
OTHER=bed,bird,cat,dog,happy,house,marvin,sheila,tree,wow,zero,one,two,three,four,five,six,seven,eight,nine
CONFUSABLE=yet,yeah,know,note,cup,town,lift,write,light,own,top,shop,goat,dawn,bright
edge-kws synth --words "$COMMANDS" --out data/synth --voices 150 --seed 0
edge-kws synth --words "$OTHER,$CONFUSABLE" --out data/synth --voices 40 --seed 1
edge-kws train --config configs/default.toml
edge-kws export --run runs/default --out edge_kws/models/default
