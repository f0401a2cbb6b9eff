module Snn.Dsl.Tests.ThresholdFitTests

open Expecto
open TorchSharp
open Snn.Dsl
open Snn.Core.Activations
open Snn.Dsl.Tests.Common

let private compiled activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failwithf "%A" (es |> List.map _.Message)

let private meanSquare (z: torch.Tensor) (a: torch.Tensor) levels (theta: float) =
    use scope = torch.NewDisposeScope()

    let q =
        QuantizeClipActivation.Functional.QuantizeClip(z, torch.tensor (float32 theta), levels)

    let d = (q - a).to_type torch.ScalarType.Float64
    (d * d).mean().item<float> ()

// Sequenced: its tests seed torch's process-wide generator and check values that depend on the draws
// (a fit that moves some threshold); tests running in parallel would draw from the same generator in
// between, so a failing case would not replay from its seed.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "ThresholdFit"
        [ testCase "forwardThroughActivations with each activation's own forward is the network's forward"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed 3L |> ignore
              use net = compiled (Clip 1.0) Specs.residualBlock
              net.eval ()
              use _ = torch.no_grad ()
              let x = torch.randn (4L, 2L, 8L, 8L)
              let mutable calls = []

              let y =
                  Convert.forwardThroughActivations
                      net
                      (fun l z ->
                          calls <- calls @ [ l.Name ]
                          l.Module.forward z)
                      x

              Expect.equal ((y - net.forward x).abs().max().item<float32> ()) 0.0f "same output, bit for bit"

              Expect.equal
                  calls
                  (Compile.activations net |> List.map _.Name)
                  "every activation once, in execution order"

          testCase
              "every layer's fitted theta is the grid's argmin given the earlier fitted layers, never worse than the copy"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              torch.manual_seed 4L |> ignore
              use clip = compiled (Clip 1.5) Specs.residualBlock
              use qc = Compile.withActivation (QC(1, 5.0)) clip
              let x = torch.randn (16L, 2L, 8L, 8L)
              let fits = ThresholdFit.fit clip qc x
              Expect.equal fits.Length 3 "act, the block's act1 and act2"
              let targets = (Convert.annActivations clip).Invoke x
              // The inputs of each QC layer after the fit, recorded by walking the fitted network.
              let inputs = System.Collections.Generic.List<torch.Tensor>()

              use _ = torch.no_grad ()

              Convert.forwardThroughActivations
                  qc
                  (fun l z ->
                      inputs.Add z
                      l.Module.forward z)
                  x
              |> ignore

              for k, f in List.indexed fits do
                  let err = meanSquare inputs[k] targets[k] 1
                  let grid = ThresholdFit.ratios |> List.map ((*) f.ClipThreshold)

                  let close a b =
                      abs (a - b) <= Tolerance.meanSquare * max (abs a) (abs b)

                  Expect.isTrue (grid |> List.contains f.Threshold) $"{f.Layer}: a grid point"
                  Expect.isTrue (close f.FittedError (err f.Threshold)) $"{f.Layer}: its error"
                  // The argmin: no grid point has a smaller error (up to the summation order).
                  for c in grid do
                      Expect.isTrue
                          (f.FittedError <= err c || close f.FittedError (err c))
                          $"{f.Layer}: theta = {c} has a smaller error than the fit's {f.Threshold}"

                  Expect.isLessThanOrEqual f.FittedError f.CopiedError $"{f.Layer}: no worse than the copy"
                  Expect.floatClose Accuracy.high f.ClipThreshold 1.5 $"{f.Layer}: the clip theta"

              Expect.equal
                  (Compile.thresholds qc |> List.map snd)
                  (fits |> List.map (fun f -> float (float32 f.Threshold)))
                  "the QC network holds the fitted thresholds"

              Expect.isTrue
                  (fits |> List.exists (fun f -> f.Threshold <> f.ClipThreshold))
                  "at L = 1 the fit moves some threshold away from the copy"

          testCase "networks of different specs are refused"
          <| fun () ->
              use clip = compiled (Clip 1.0) Specs.residualBlock
              use other = compiled (QC(2, 1.0)) Presets.fmnistVgg

              Expect.throwsC (fun () -> ThresholdFit.fit clip other (torch.zeros (1L, 2L, 8L, 8L)) |> ignore) (fun e ->
                  Expect.stringContains e.Message "same spec" "names the problem") ]
