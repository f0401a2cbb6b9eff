module Snn.Core.Tests.Errors.ErrorDecompositionTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Neurons
open Snn.Core.Errors
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.LayerGenerators
open Snn.Core.Tests.ActivationGenerators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// z, r, v(T) of a float64 run of a case, as tensors [B, ...] in the current dispose scope.
let private simulate (c: NeuronCase) =
    let currents = c.CurrentsTensor torch.float64

    let run =
        IfNeuron.Run(currents, c.ThresholdTensor torch.float64, c.InitialPotentialTensor torch.float64)

    currents.mean [| 0L |], run.Outputs.mean [| 0L |], run.FinalPotential

/// The summary through the whole-tensor float64 form (float64 inputs never take the float32 kernel).
let private reference (z: torch.Tensor) r theta steps v0 vT =
    let f64 (t: torch.Tensor) = t.to_type torch.float64

    ErrorDecomposition.Summarize(f64 z, f64 r, f64 theta, steps, f64 v0, f64 vT)

/// Counts and the maximum deviation exactly equal (each term is computed by the same float64 operations);
/// the sums within float64Summation of the sum of magnitudes (they differ only in the order of addition).
let private expectSameSummary (actual: LayerErrorSummary) (expected: LayerErrorSummary) =
    Expect.equal actual.Count expected.Count "entries"
    Expect.equal actual.NegativeCount expected.NegativeCount "v(T) < 0"
    Expect.equal actual.OverflowCount expected.OverflowCount "v(T) >= theta"
    Expect.equal actual.MaxIdentityDeviation expected.MaxIdentityDeviation "max |r - z - (v(0) - v(T)) / T|"

    let sums (name: string) (a: ErrorTermSums) (e: ErrorTermSums) =
        let bound = Tolerances.float64Summation * e.AbsoluteSum
        Expect.isLessThanOrEqual (abs (a.AbsoluteSum - e.AbsoluteSum)) bound $"{name}: sum |e|"
        Expect.isLessThanOrEqual (abs (a.SignedSum - e.SignedSum)) bound $"{name}: sum e"

    sums "residual" actual.Residual expected.Residual
    sums "quantization" actual.Quantization expected.Quantization
    sums "clipping" actual.Clipping expected.Clipping
    sums "total" actual.Total expected.Total

/// z, r, v(T) of a random float32 layer [B, N] with per-neuron theta in [0.5, 1.5] and v(0) = theta / 2.
let private randomLayer (batch: int64) (neurons: int64) =
    let theta = torch.rand (neurons) + 0.5f
    let z = (torch.rand (batch, neurons) * 3.0f - 1.0f) * theta

    let r =
        (torch.randint (0L, 5L, [| batch; neurons |]) * 0.25f).to_type (torch.float32)
        * theta

    let vT = (torch.rand (batch, neurons) * 3.0f - 1.0f) * theta
    z, r, theta, theta / 2.0f, vT

[<Tests>]
let tests =
    testList
        "ErrorDecomposition"
        [ // Property 4
          testPropertyWithConfig config "the three error terms add up to r - ReLU(z)"
          <| Prop.forAll neuronCases (fun c ->
              use scope = torch.NewDisposeScope()
              let z, r, _ = simulate c

              use terms =
                  ErrorDecomposition.Decompose(z, r, c.ThresholdTensor torch.float64, c.Steps)

              let sum = valuesOf (terms.Residual + terms.Quantization + terms.Clipping)
              let zs, rs = valuesOf z, valuesOf r

              for n in 0 .. c.Count - 1 do
                  let gap = rs.[n] - max zs.[n] 0.0
                  let scale = c.Thresholds.[n] + abs zs.[n] + abs rs.[n]

                  Expect.floatClose
                      { absolute = Tolerances.float64Relative * scale
                        relative = 0.0 }
                      sum.[n]
                      gap
                      $"neuron {n}: residual + quantization + clipping = r - ReLU(z)")

          // Property 5
          testPropertyWithConfig config "a constant input in [0, theta] gives zero residual error at every T"
          <| Prop.forAll constantInputs (fun (theta, current) ->
              use scope = torch.NewDisposeScope()

              for steps in 1..maxConstantSteps do
                  let currents = tensorOf [| int64 steps; 1L |] (Array.create steps current)
                  let thetaT = torch.tensor (theta, dtype = torch.float64)

                  let run =
                      IfNeuron.Run(currents, thetaT, torch.tensor (theta / 2.0, dtype = torch.float64))

                  let z = currents.mean [| 0L |]

                  use terms =
                      ErrorDecomposition.Decompose(z, run.Outputs.mean [| 0L |], thetaT, steps)

                  let residual = (valuesOf terms.Residual).[0]

                  Expect.floatClose
                      { absolute = Tolerances.float64Relative * theta
                        relative = 0.0 }
                      residual
                      0.0
                      $"T = {steps}: r - QC_T(z) = 0")

          testCase "each term on hand-worked neurons: in range, overflow, clipped, negative"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              // theta = 1, T = 2. z: 0.3 (QC = 0.5), 1.5 (clip 1), -0.4 (ReLU 0). r chosen by hand.
              let z = torch.tensor [| 0.3; 1.5; -0.4 |]
              let r = torch.tensor [| 0.5; 0.5; 0.5 |]
              use terms = ErrorDecomposition.Decompose(z, r, torch.tensor 1.0, 2)
              Expect.sequenceEqual (valuesOf terms.Residual) [| 0.0; -0.5; 0.5 |] "r - QC_2(z)"

              Expect.sequenceEqual
                  (valuesOf terms.Quantization |> Array.map (fun v -> round (v * 1e12) / 1e12))
                  [| 0.2; 0.0; 0.0 |]
                  "QC_2(z) - clip(z)"

              Expect.sequenceEqual (valuesOf terms.Clipping) [| 0.0; -0.5; 0.0 |] "clip(z) - ReLU(z)"

          testCase "a summary counts negative and overflowing potentials and the identity deviation"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              // theta = 1, T = 2, v(0) = 1/2; the rates satisfy the identity except the last entry (off by 0.25).
              let vT = torch.tensor [| 0.5; -0.5; 1.0; 0.25 |]
              let z = torch.tensor [| 0.5; 0.0; 1.5; 0.75 |]
              let r = z + (0.5 - vT) / 2.0 + torch.tensor [| 0.0; 0.0; 0.0; 0.25 |]

              let s =
                  ErrorDecomposition.Summarize(z, r, torch.tensor 1.0, 2, torch.tensor 0.5, vT)

              Expect.equal s.Count 4L "entries"
              Expect.equal s.NegativeCount 1L "v(T) < 0"
              Expect.equal s.OverflowCount 1L "v(T) >= theta"
              Expect.equal s.NegativeShare 0.25 "share negative"
              Expect.floatClose Accuracy.veryHigh s.MaxIdentityDeviation 0.25 "largest |r - z - (v(0) - v(T)) / T|"
              let relu = valuesOf z |> Array.map (max 0.0)
              let total = Array.map2 (fun a b -> abs (a - b)) (valuesOf r) relu |> Array.average
              Expect.floatClose Accuracy.veryHigh s.MeanAbsoluteTotal total "mean |r - ReLU(z)|"

          testPropertyWithConfig config "summaries merged over batches equal the summary of the whole set"
          <| Prop.forAll neuronCases (fun c ->
              use scope = torch.NewDisposeScope()
              let z, r, vT = simulate c
              let theta = c.ThresholdTensor torch.float64
              let v0 = c.InitialPotentialTensor torch.float64
              let whole = ErrorDecomposition.Summarize(z, r, theta, c.Steps, v0, vT)
              let batch = c.Shape.[0]

              let part (i: int64) =
                  let pick (t: torch.Tensor) =
                      if t.dim () = 0L then t else t.narrow (0L, i, 1L)

                  ErrorDecomposition.Summarize(pick z, pick r, pick theta, c.Steps, pick v0, pick vT)

              let merged =
                  [ 0L .. batch - 1L ] |> List.map part |> List.fold (+) LayerErrorSummary.Empty

              let close a b what =
                  Expect.floatClose Accuracy.high a b what

              Expect.equal merged.Count whole.Count "count"
              Expect.equal merged.NegativeCount whole.NegativeCount "negative"
              Expect.equal merged.OverflowCount whole.OverflowCount "overflow"
              Expect.equal merged.MaxIdentityDeviation whole.MaxIdentityDeviation "max deviation"
              close merged.MeanAbsoluteResidual whole.MeanAbsoluteResidual "residual"
              close merged.SignedMeanResidual whole.SignedMeanResidual "signed residual"
              close merged.MeanAbsoluteQuantization whole.MeanAbsoluteQuantization "quantization"
              close merged.SignedMeanClipping whole.SignedMeanClipping "clipping"
              close merged.MeanAbsoluteTotal whole.MeanAbsoluteTotal "total")

          testPropertyWithConfig config "the one-pass summary of float32 layers equals the whole-tensor float64 summary"
          <| Prop.forAll summaryCases (fun c ->
              use scope = torch.NewDisposeScope()
              let z, r, vT = c.MeanInputTensor, c.RateTensor, c.FinalPotentialTensor
              let theta, v0 = c.ThresholdTensor, c.InitialPotentialTensor
              let fused = ErrorDecomposition.Summarize(z, r, theta, c.Steps, v0, vT)
              expectSameSummary fused (reference z r theta c.Steps v0 vT))

          testCase "a layer of several blocks gives the whole-tensor summary"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              // 3 x 50001 entries: three parallel blocks, with sample boundaries inside blocks.
              let z, r, theta, v0, vT = randomLayer 3L 50001L
              let fused = ErrorDecomposition.Summarize(z, r, theta, 4, v0, vT)
              expectSameSummary fused (reference z r theta 4 v0 vT)

          testSequenced (
              testCase "the one-pass summary is bit-identical with one thread and with several"
              <| fun () ->
                  use scope = torch.NewDisposeScope()
                  let z, r, theta, v0, vT = randomLayer 4L 70001L
                  let threads = torch.get_num_threads ()
                  let several = ErrorDecomposition.Summarize(z, r, theta, 7, v0, vT)
                  torch.set_num_threads 1

                  let one =
                      try
                          ErrorDecomposition.Summarize(z, r, theta, 7, v0, vT)
                      finally
                          torch.set_num_threads threads

                  Expect.equal one several "same summary"
          )

          testSequenced (
              testCase "a summary leaves no tensor alive, with or without the one-pass kernel"
              <| fun () ->
                  use scope = torch.NewDisposeScope()
                  let z, r, theta, v0, vT = randomLayer 3L 12L
                  let perChannel = torch.rand (3L, 1L) + 0.5f

                  let zc, rc, vc =
                      z.reshape (3L, 3L, 4L), r.reshape (3L, 3L, 4L), vT.reshape (3L, 3L, 4L)

                  let half = torch.tensor 0.5f
                  let zt, rt, vt = z.t (), r.t (), vT.t ()
                  let thetaColumn, v0Column = theta.unsqueeze 1L, v0.unsqueeze 1L

                  LeakChecks.expectStableTensorCount "no tensor escapes a summary" (fun () ->
                      ErrorDecomposition.Summarize(z, r, theta, 3, v0, vT) |> ignore
                      ErrorDecomposition.Summarize(zc, rc, perChannel, 3, half, vc) |> ignore
                      ErrorDecomposition.Summarize(zt, rt, thetaColumn, 3, v0Column, vt) |> ignore)
          )

          testCase "inputs the one-pass summary does not take give the whole-tensor summary"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let z, r, theta, v0, vT = randomLayer 6L 10L
              let t (x: torch.Tensor) = x.t ()
              // z, r, v(T) transposed views [N, B] (not contiguous); theta per neuron along the new batch axis.
              let transposed =
                  ErrorDecomposition.Summarize(t z, t r, theta.unsqueeze 1L, 3, v0.unsqueeze 1L, t vT)

              expectSameSummary transposed (reference (t z) (t r) (theta.unsqueeze 1L) 3 (v0.unsqueeze 1L) (t vT))
              // theta varying along the batch axis only ([B, 1]).
              let perSample = torch.rand (6L, 1L) + 0.5f
              let batchTheta = ErrorDecomposition.Summarize(z, r, perSample, 3, v0, vT)
              expectSameSummary batchTheta (reference z r perSample 3 v0 vT)
              // float64 z with float32 theta.
              let mixed =
                  ErrorDecomposition.Summarize(z.to_type torch.float64, r, theta, 3, v0, vT)

              expectSameSummary mixed (reference z r theta 3 v0 vT)

          testCase "the identity deviation is |r - z - (v(0) - v(T)) / T| per neuron"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              let t (xs: float[]) =
                  torch.tensor (xs, dtype = torch.float64)
              // Neuron 1 satisfies the identity: 0.5 = 0.25 + (0.5 - (-0.5)) / 4; neuron 2 is off by 0.125.
              let deviation =
                  ErrorDecomposition.IdentityDeviation(
                      t [| 0.25; 1.0 |],
                      t [| 0.5; 1.0 |],
                      t [| 0.5; 0.5 |],
                      t [| -0.5; 0.0 |],
                      4
                  )

              Expect.equal (deviation.data<float>().ToArray()) [| 0.0; 0.125 |] "per neuron"

          testCase "the empty summary is neutral and reports zero means"
          <| fun () ->
              let e = LayerErrorSummary.Empty
              Expect.equal (e.Merge e) e "Empty + Empty = Empty"
              Expect.equal e.MeanAbsoluteResidual 0.0 "no entries, zero mean"
              Expect.equal e.OverflowShare 0.0 "no entries, zero share"

          testCase "bad arguments are refused, naming the parameter, the value and the range"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let z = torch.zeros (2L, 3L)
              let theta = torch.tensor 1.0

              argumentError "timeSteps" [ "0"; ">= 1" ] (fun () ->
                  ErrorDecomposition.Decompose(z, z, theta, 0) |> ignore)

              argumentError "threshold" [ "0"; "> 0" ] (fun () ->
                  ErrorDecomposition.Decompose(z, z, torch.tensor 0.0, 2) |> ignore)

              argumentError "rate" [ "[3, 2]"; "[2, 3]" ] (fun () ->
                  ErrorDecomposition.Decompose(z, torch.zeros (3L, 2L), theta, 2) |> ignore)

              argumentError "threshold" [ "[2]"; "[2, 3]" ] (fun () ->
                  ErrorDecomposition.Decompose(z, z, torch.ones 2L, 2) |> ignore)

              argumentError "finalPotential" [ "[2]"; "[2, 3]" ] (fun () ->
                  ErrorDecomposition.Summarize(z, z, theta, 2, theta, torch.zeros 2L) |> ignore)

              argumentError "initialPotential" [ "[4]"; "[2, 3]" ] (fun () ->
                  ErrorDecomposition.Summarize(z, z, theta, 2, torch.zeros 4L, z) |> ignore) ]
