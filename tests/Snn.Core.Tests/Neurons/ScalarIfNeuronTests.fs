module Snn.Core.Tests.Neurons.ScalarIfNeuronTests

open Expecto
open FsCheck.FSharp
open Snn.Core.Neurons
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

[<Tests>]
let tests =
    testList
        "ScalarIfNeuron"
        [ testCase "a hand-worked run: theta = 1, v(0) = 1/2, I = [0.75, 0.75, -0.5, 1.5]"
          <| fun () ->
              // v: 0.5 -> 1.25 fire -> 0.25 -> 1.0 (= theta, no fire) -> 0.5 -> 2.0 fire -> 1.0
              let r = ScalarIfNeuron.Run([| 0.75; 0.75; -0.5; 1.5 |], 1.0, 0.5)
              Expect.equal r.Outputs [| 1.0; 0.0; 0.0; 1.0 |] "theta-weighted spikes"
              Expect.equal r.Spikes 2 "two spikes"
              Expect.equal r.FinalPotential 1.0 "v(T) after soft reset"

          testPropertyWithConfig config "the scalar reference satisfies r = z + (v(0) - v(T)) / T"
          <| Prop.forAll neuronCases (fun c ->
              for n in 0 .. c.Count - 1 do
                  let reference = c.References.[n]
                  let steps = float c.Steps
                  let r = Array.sum reference.Outputs / steps
                  let z = Array.sum c.Currents.[n] / steps

                  let scale =
                      c.Thresholds.[n] + abs c.InitialPotentials.[n] + Array.sumBy abs c.Currents.[n]

                  Expect.isLessThanOrEqual
                      (abs (r - z - (c.InitialPotentials.[n] - reference.FinalPotential) / steps))
                      (Tolerances.float64Relative * scale)
                      $"neuron {n}")

          testCase "bad arguments are refused, naming the parameter, the value and the range"
          <| fun () ->
              argumentError "threshold" [ "0"; "> 0" ] (fun () -> ScalarIfNeuron.Run([| 1.0 |], 0.0, 0.0) |> ignore)
              argumentError "threshold" [ "-2"; "> 0" ] (fun () -> ScalarIfNeuron.Run([| 1.0 |], -2.0, 0.0) |> ignore)
              argumentError "currents" [ "0"; ">= 1" ] (fun () -> ScalarIfNeuron.Run([||], 1.0, 0.5) |> ignore)

              argumentError "initialPotential" [ "NaN"; "finite" ] (fun () ->
                  ScalarIfNeuron.Run([| 1.0 |], 1.0, nan) |> ignore)

              argumentError "currents" [ "Infinity"; "finite" ] (fun () ->
                  ScalarIfNeuron.Run([| infinity |], 1.0, 0.5) |> ignore) ]
