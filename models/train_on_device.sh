#!/bin/bash
# Session 8: what ran on the lent H100 (device tool, `carry: [".gpu"]`, .gpu/ holding music21-tunes.json.gz,
# val_pairs/ and any --init weights). One call generates pairs on 13 cores while two encoders train on the GPU:
# A (the shipped widths) and B (widths 16-256 from random init). Run from the repository root.
# usage: models/train_on_device.sh GEN_SEED MINUTES A_INIT B_INIT   (INIT "none" = random init, B_INIT "skip" = no B)
# Session 12 (run 7): SKILLS=careful,casual,untrained draws each hum's singing skill (models.hum.SKILLS).
# Session 29: GEN_ARGS adds options to the generation, e.g. GEN_ARGS="--registers wide --mains-hum 0.15" (--leads sung needs Festival and FluidSynth there).
# Session 32: add --without-held-out-twins to GEN_ARGS (no twin of a held-out tune trained on; models.melody.without_twins_of).
set -u
export PYTHONUNBUFFERED=1
SEED=$1; MIN=$2; AINIT=$3; BINIT=$4
nvidia-smi -L; python3 -c "import torch, numpy, scipy; print(torch.__version__, numpy.__version__, scipy.__version__)"
rm -rf /tmp/pairs /tmp/a /tmp/b /tmp/gen.done
(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 -m models.gen_data --out /tmp/pairs --shards 1000 --pairs-per-shard 100 --seed $SEED --workers ${WORKERS:-13} \
   --skills ${SKILLS:-careful} --tunes .gpu/music21-tunes.json.gz ${GEN_ARGS:-} > $OUT/gen.log 2>&1; touch /tmp/gen.done) &
init() { if [ "$1" = none ]; then echo "$2"; else echo "--init $1"; fi; }
python3 -m models.train --pairs /tmp/pairs $(init $AINIT "") --val .gpu/val_pairs --out /tmp/a --steps ${ASTEPS:-4000} \
   --batch 256 --lr ${ALR:-1e-3} --seed $((SEED+10)) --device cuda --min-pairs 3000 --max-passes ${APASS:-20} \
   --gen-done /tmp/gen.done --max-minutes $MIN --threads 1 > $OUT/a.log 2>&1 &
A=$!
if [ "$BINIT" != skip ]; then
python3 -m models.train --pairs /tmp/pairs $(init $BINIT "--widths 16 32 64 128 256") --val .gpu/val_pairs --out /tmp/b \
   --steps ${BSTEPS:-5000} --batch 256 --lr ${BLR:-3e-3} --seed $((SEED+20)) --device cuda --min-pairs 3000 \
   --max-passes ${BPASS:-30} --gen-done /tmp/gen.done --max-minutes $MIN --threads 1 > $OUT/b.log 2>&1 &
B=$!
fi
wait $A ${B:-}
pkill -f models.gen_data; sleep 1
cp /tmp/a/encoder.npz $OUT/a_encoder.npz; [ -f /tmp/b/encoder.npz ] && cp /tmp/b/encoder.npz $OUT/b_encoder.npz
ls /tmp/pairs | wc -l
grep -h val_top1 $OUT/a.log | tail -3; [ -f $OUT/b.log ] && grep -h val_top1 $OUT/b.log | tail -3
