module Snn.Core.Tests.Calibration.SynapseBatchNormTests

open Expecto
open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Calibration

/// float32 normalisation and folding of currents of order 1: (x - mu) / sigma * gamma + beta in another order.
let normTolerance = 1e-5

/// Every element of `actual` within normTolerance (absolute and relative) of `expected`.
let private allClose (expected: torch.Tensor) (actual: torch.Tensor) what =
    Expect.sequenceEqual actual.shape expected.shape $"%s{what}: the shape"
    let gap = (actual - expected).abs().max().item<float32> () |> float
    let scale = expected.abs().max().item<float32> () |> float
    Expect.isLessThanOrEqual gap (normTolerance * (1.0 + scale)) $"%s{what}: largest gap %g{gap}"

/// Per-channel statistics over every dimension but 1, shaped to broadcast: mean, biased variance, value count.
let private stats (x: torch.Tensor) =
    let dims = [| 0L; 2L; 3L |]
    let shape = [| 1L; -1L; 1L; 1L |]
    x.mean(dims).view shape, x.var(dims, unbiased = false).view shape, x.numel () / x.shape[1]

/// Random currents [N, C = 3, 4, 4] with channel means and spreads far from 0 and 1.
let private currents (g: torch.Generator) =
    let shift = torch.tensor([| 1.5f; -0.5f; 3.0f |]).view (1L, -1L, 1L, 1L)
    let spread = torch.tensor([| 0.5f; 2.0f; 0.1f |]).view (1L, -1L, 1L, 1L)
    torch.randn ([| 8L; 3L; 4L; 4L |], generator = g) * spread + shift

[<Tests>]
let tests =
    testList
        "SynapseBatchNorm"
        [ test "it starts as the identity, and the first training batch leaves that batch and evaluation unchanged" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(3UL)
              use norm = new SynapseBatchNorm(3L, torch.CPU)
              let first, other = currents g, currents g

              Expect.isTrue
                  (norm.Apply(other, false).equal(other).all().item<bool> ())
                  "unset: evaluation is the identity, bit for bit"

              allClose first (norm.Apply(first, true)) "the first training batch"
              allClose other (norm.Apply(other, false)) "evaluation after it: the running statistics are the batch's"
          }

          test
              "later batches are normalised by their own statistics, and the running ones move by m = 0.1 with the unbiased variance" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(5UL)
              use norm = new SynapseBatchNorm(3L, torch.CPU)
              let first, second, probe = currents g, currents g, currents g
              norm.Apply(first, true) |> ignore
              let mean1, var1, _ = stats first
              let mean2, var2, n = stats second
              let eps = SynapseBatchNorm.Epsilon
              let gamma, beta = (var1 + eps).sqrt (), mean1
              allClose ((second - mean2) / (var2 + eps).sqrt () * gamma + beta) (norm.Apply(second, true)) "training"

              let m = SynapseBatchNorm.Momentum
              let runningMean = mean1 * (1.0 - m) + mean2 * m
              let runningVar = var1 * (1.0 - m) + var2 * (float n / float (n - 1L)) * m
              let expected = (probe - runningMean) / (runningVar + eps).sqrt () * gamma + beta
              allClose expected (norm.Apply(probe, false)) "evaluation with the running statistics"
          }

          test "folding: the synapse with W' = s W and b' = s (b - mu) + beta computes the evaluation-mode output" {
              use scope = torch.NewDisposeScope()
              use g = new torch.Generator(9UL)
              let randn (shape: int64[]) = torch.randn (shape, generator = g)
              use conv = Synapse.Conv2d(randn [| 3L; 2L; 3L; 3L |], randn [| 3L |], padding = 1L)
              use linear = Synapse.Linear(randn [| 3L; 5L |], randn [| 3L |])

              for synapse, input in
                  [ conv, (fun () -> randn [| 8L; 2L; 4L; 4L |])
                    linear, (fun () -> randn [| 16L; 5L |]) ] do
                  use norm = new SynapseBatchNorm(3L, torch.CPU)

                  for _ in 1..3 do
                      norm.Apply(synapse.Forward(input ()), true) |> ignore

                  let x = input ()
                  let struct (w, b) = norm.Fold(synapse.Weight, synapse.Bias)
                  use folded = synapse.Clone()
                  folded.Assign(w, b)
                  allClose (norm.Apply(synapse.Forward x, false)) (folded.Forward x) $"%A{synapse.Kind}"
          } ]
