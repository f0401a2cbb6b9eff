#!/usr/bin/env bash
# Makes a synthetic ImageNet-layout folder: <out>/train/<class>/*.jpg and <out>/val/<class>/*.jpg
# with 1,000 class folders (n00000000 .. n00000999) of 224x224 JPEGs: per class, one image of a
# class-dependent colour with seeded Gaussian noise (ImageMagick), hard-linked to make the
# class's train-per-class training and val-per-class validation images. The images carry no information: the
# folder exercises the image-folder reader (streaming under SNN_DATA_MEMORY) and the resnet34
# path end to end (docs/PERFORMANCE.md, "ResNet-34 smoke"). Deterministic: the same images every run.
#
#   scripts/make-synthetic-imagenet.sh <out> [train-per-class (default 2)] [val-per-class (default 1)]
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 ]]; then
    echo "usage: $0 <out-folder> [train-per-class (default 2)] [val-per-class (default 1)]" >&2
    exit 2
fi

out=$1
train=${2:-2}
val=${3:-1}
classes=1000

# ImageMagick's convert (the first on PATH may be something else of that name).
im=""
for c in magick convert-im6.q16 /usr/bin/convert convert; do
    if command -v "$c" >/dev/null && "$c" -version 2>/dev/null | grep -q ImageMagick; then
        im=$c
        break
    fi
done
if [[ -z "$im" ]]; then
    echo "$0: ImageMagick is needed (apt-get install imagemagick)" >&2
    exit 3
fi

if [[ ! "$train" =~ ^[1-9][0-9]*$ || ! "$val" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: train-per-class = $train, val-per-class = $val: expected whole numbers >= 1" >&2
    exit 2
fi

mkdir -p "$out/train" "$out/val"

for ((k = 0; k < classes; k++)); do
    name=$(printf 'n%08d' "$k")
    mkdir -p "$out/train/$name" "$out/val/$name"
    base="$out/train/$name/$name-0.jpg"
    if [[ ! -s "$base" ]]; then
        r=$(((k * 37) % 256)) g=$(((k * 91) % 256)) b=$(((k * 173) % 256))
        "$im" -seed "$k" -size 224x224 "xc:rgb($r,$g,$b)" -attenuate 0.6 +noise Gaussian -quality 85 "$base"
    fi
    for ((i = 1; i < train; i++)); do ln -f "$base" "$out/train/$name/$name-$i.jpg"; done
    for ((i = 0; i < val; i++)); do ln -f "$base" "$out/val/$name/${name}_val-$i.jpg"; done
done
echo "$out: $((classes * train)) training and $((classes * val)) validation images of 224x224 in $classes classes"
