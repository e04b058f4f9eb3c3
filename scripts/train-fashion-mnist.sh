#!/usr/bin/env bash
# The main job: trains a CNN on Fashion-MNIST through an ML.NET pipeline, prints test metrics and writes the model.
#   bash scripts/train-fashion-mnist.sh [--train 60000] [--epochs 3] [--out fashion-mnist-cnn.mlnd]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet run -c Release --project samples/FashionMnistCnn -- "$@"
