module Snn.Core.Tests.Activations.ClipActivationTests

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

[<Tests>]
let tests =
    testList
        "ClipActivation"
        [ testCase "clip is min(max(x, 0), theta) on hand-worked values"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              let y =
                  ClipActivation.Functional.Clip(torch.tensor [| -1.0; 0.0; 0.5; 2.0; 3.0 |], torch.tensor 2.0)

              Expect.equal (valuesOf y) [| 0.0; 0.0; 0.5; 2.0; 2.0 |] "clipped"

          // Property 9 (clip part)
          testPropertyWithConfig config "theta's gradient of the clip matches a central finite difference"
          <| Prop.forAll gradientCases (fun c ->
              use scope = torch.NewDisposeScope()
              let x = torch.tensor (c.Inputs, dtype = torch.float64)
              let theta = torch.tensor (c.Theta, dtype = torch.float64, requires_grad = true)
              ClipActivation.Functional.Clip(x, theta).sum().backward ()
              let autograd = theta.grad.item<float> ()
              let h = Tolerances.finiteDifferenceStep * c.Theta

              let total (th: float) =
                  use s = torch.NewDisposeScope()
                  ClipActivation.Functional.Clip(x, torch.tensor (th, dtype = torch.float64)).sum().item<float> ()

              let numeric = (total (c.Theta + h) - total (c.Theta - h)) / (2.0 * h)
              Expect.isGreaterThan autograd -0.5 "the gradient counts entries above theta (>= 0)"

              Expect.floatClose
                  { absolute = Tolerances.finiteDifference * float c.Inputs.Length
                    relative = Tolerances.finiteDifference }
                  autograd
                  numeric
                  "d sum clip / d theta")

          testCase "the module starts at its initial threshold and refuses a threshold <= 0"
          <| fun () ->
              use m = new ClipActivation(3.0)
              Expect.equal m.EffectiveThreshold 3.0 "theta"
              argumentError "initialThreshold" [ "0"; "> 0" ] (fun () -> new ClipActivation(0.0) |> ignore)
              argumentError "initialThreshold" [ "NaN"; "> 0" ] (fun () -> new ClipActivation(nan) |> ignore) ]
