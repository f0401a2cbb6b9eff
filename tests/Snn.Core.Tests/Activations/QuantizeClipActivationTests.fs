module Snn.Core.Tests.Activations.QuantizeClipActivationTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Activations
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.ActivationGenerators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

let private qc (c: ActivationCase) (x: torch.Tensor) =
    QuantizeClipActivation.Functional.QuantizeClip(x, torch.tensor (c.Theta, dtype = torch.float64), c.Levels)

[<Tests>]
let tests =
    testList
        "QuantizeClipActivation"
        [ testCase "QC_4 with theta = 2 on hand-worked values, half steps rounding up"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let x = torch.tensor [| -1.0; 0.0; 0.24; 0.25; 0.74; 1.0; 1.9; 2.0; 3.0 |]
              let y = QuantizeClipActivation.Functional.QuantizeClip(x, torch.tensor 2.0, 4)

              Expect.equal
                  (valuesOf y)
                  [| 0.0; 0.0; 0.0; 0.5; 0.5; 1.0; 2.0; 2.0; 2.0 |]
                  "theta * floor(x L / theta + 1/2) / L, clipped"

          // Property 3
          testPropertyWithConfig config "|QC_L(z) - clip(z)| <= theta / (2L) for every z"
          <| Prop.forAll activationCases (fun c ->
              use scope = torch.NewDisposeScope()
              let x = torch.tensor (c.Inputs, dtype = torch.float64)
              let theta = torch.tensor (c.Theta, dtype = torch.float64)
              let gap = valuesOf ((qc c x - ClipActivation.Functional.Clip(x, theta)).abs ())
              // The bound is attained at half steps; allow float64 rounding of the bound itself.
              let bound = c.Theta / (2.0 * float c.Levels) + Tolerances.float64Relative * c.Theta

              gap
              |> Array.iteri (fun i g -> Expect.isLessThanOrEqual g bound $"x = {c.Inputs.[i]}"))

          // Property 8
          testPropertyWithConfig config "QC_L takes only the L + 1 values k theta / L"
          <| Prop.forAll activationCases (fun c ->
              use scope = torch.NewDisposeScope()
              let y = valuesOf (qc c (torch.tensor (c.Inputs, dtype = torch.float64)))
              let levels = float c.Levels

              y
              |> Array.iteri (fun i v ->
                  let k = round (v * levels / c.Theta)
                  Expect.isTrue (k >= 0.0 && k <= levels) $"x = {c.Inputs.[i]}: level {k} in [0, L]"

                  Expect.floatClose
                      { absolute = Tolerances.float64Relative * c.Theta
                        relative = 0.0 }
                      v
                      (k * c.Theta / levels)
                      $"x = {c.Inputs.[i]}: QC is k theta / L"))

          // Property 9 (QC part)
          // The rounding is passed straight through before the clip (PAPER.md's order,
          // theta * clip(floor(x L / theta + 1/2) / L, 0, 1)), so the gradient is 1 wherever the
          // rounded level lies in [0, 1]: on (0, theta) and on the half steps beyond either end.
          testPropertyWithConfig
              config
              "QC's straight-through gradient is 1 inside (0, theta), 1 where the rounded level is still in [0, 1], else 0"
          <| Prop.forAll gradientCases (fun c ->
              use scope = torch.NewDisposeScope()
              let x = torch.tensor (c.Inputs, dtype = torch.float64, requires_grad = true)
              (qc c x).sum().backward ()
              let g = valuesOf x.grad

              g
              |> Array.iteri (fun i gi ->
                  let xi = c.Inputs.[i]
                  let level = floor (xi / c.Theta * float c.Levels + 0.5) / float c.Levels

                  if xi > 0.0 && xi < c.Theta then
                      Expect.equal gi 1.0 $"d QC / d x at x = {xi} inside (0, theta)"

                  let expected = if level >= 0.0 && level <= 1.0 then 1.0 else 0.0
                  Expect.equal gi expected $"d QC / d x at x = {xi} (rounded level {level})"))

          // The QCFS baseline's order: the clip first, so the gradient is that of theta * clip(x / theta, 0, 1).
          testPropertyWithConfig
              config
              "with the clip-first order QC's gradient is 1 on [0, theta] and 0 outside; theta's is level - x / theta there, 1 above, 0 below"
          <| Prop.forAll gradientCases (fun c ->
              use scope = torch.NewDisposeScope()
              let x = torch.tensor (c.Inputs, dtype = torch.float64, requires_grad = true)
              let theta = torch.tensor (c.Theta, dtype = torch.float64, requires_grad = true)

              let y =
                  QuantizeClipActivation.Functional.QuantizeClip(
                      x,
                      theta,
                      c.Levels,
                      QuantizeClipGradient.ClipThenRound
                  )

              y.sum().backward ()
              let levels = float c.Levels

              let expectedTheta =
                  c.Inputs
                  |> Array.sumBy (fun xi ->
                      let r = xi / c.Theta

                      if r < 0.0 then 0.0
                      elif r > 1.0 then 1.0
                      else floor (r * levels + 0.5) / levels - r)

              valuesOf x.grad
              |> Array.iteri (fun i gi ->
                  let xi = c.Inputs.[i]
                  let expected = if xi >= 0.0 && xi <= c.Theta then 1.0 else 0.0
                  Expect.equal gi expected $"d QC / d x at x = {xi}")

              Expect.floatClose
                  { absolute = Tolerances.float64Summation
                    relative = Tolerances.float64Summation }
                  (theta.grad.item<float> ())
                  expectedTheta
                  "d sum QC / d theta")

          testCase "noisy quantization rounds every entry when p = 0 and leaves some unrounded when p > 0"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let x = torch.linspace (0.0, 1.0, 1001L, dtype = torch.float64)
              let theta = torch.tensor 1.0
              let exact = valuesOf (QuantizeClipActivation.Functional.QuantizeClip(x, theta, 4))

              let p0 =
                  valuesOf (QuantizeClipActivation.Functional.NoisyQuantizeClip(x, theta, 4, 0.0))

              Expect.equal p0 exact "p = 0 is QC_L"

              let noisy =
                  valuesOf (QuantizeClipActivation.Functional.NoisyQuantizeClip(x, theta, 4, 0.5))

              let xs = valuesOf x

              let unrounded =
                  Array.zip3 xs exact noisy
                  |> Array.filter (fun (xi, e, n) -> n <> e)
                  |> Array.length

              Expect.isGreaterThan unrounded 100 "about half of the 1001 entries keep the clip value"

              Array.zip3 xs exact noisy
              |> Array.iter (fun (xi, e, n) -> Expect.isTrue (n = e || n = xi) $"x = {xi}: either rounded or clipped")

          testCase "the module evaluates QC_L exactly and validates its arguments"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use m = new QuantizeClipActivation(2, 1.0, 0.1)
              m.eval ()
              let y = m.forward (torch.tensor [| 0.2f; 0.3f; 0.8f |])
              Expect.equal (valuesOf y) [| 0.0; 0.5; 1.0 |] "QC_2 with theta = 1"
              argumentError "levels" [ "0"; ">= 1" ] (fun () -> new QuantizeClipActivation(0, 1.0, 0.1) |> ignore)

              argumentError "initialThreshold" [ "-1"; "> 0" ] (fun () ->
                  new QuantizeClipActivation(2, -1.0, 0.1) |> ignore)

              argumentError "noiseProbability" [ "1"; "[0, 1)" ] (fun () ->
                  new QuantizeClipActivation(2, 1.0, 1.0) |> ignore)

              argumentError "noiseProbability" [ "-0.1"; "[0, 1)" ] (fun () ->
                  new QuantizeClipActivation(2, 1.0, -0.1) |> ignore) ]
