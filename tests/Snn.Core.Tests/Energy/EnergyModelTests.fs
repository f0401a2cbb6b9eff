module Snn.Core.Tests.Energy.EnergyModelTests

open Expecto
open Snn.Core.Energy
open Snn.Core.Tests.ArgumentChecks

[<Tests>]
let tests =
    testList
        "EnergyModel"
        [ testCase "the default model prices a MAC at 4.6 pJ and a SOP at 0.9 pJ"
          <| fun () ->
              let m = EnergyModel.Default
              Expect.equal m.MacPicojoules 4.6 "e_MAC"
              Expect.equal m.SopPicojoules 0.9 "e_SOP"
              Expect.floatClose Accuracy.veryHigh (m.AnnEnergy 1000.0) 4600.0 "E_ANN = 4.6 x MACs"

          testCase "the SNN energy counts the analog first layer as MACs at every step"
          <| fun () ->
              let m = EnergyModel(2.0, 0.5)
              // 0.5 x 100 SOPs + 2 x 10 MACs x 4 steps = 50 + 80
              Expect.floatClose Accuracy.veryHigh (m.SnnEnergy(100.0, 10.0, 4)) 130.0 "E_SNN"
              Expect.floatClose Accuracy.veryHigh (m.Ratio(65.0, 100.0, 10.0, 4)) 1.0 "E_ANN / E_SNN = 130 / 130"
              Expect.floatClose Accuracy.veryHigh (m.Ratio(650.0, 100.0, 10.0, 4)) 10.0 "ten times less energy"

          testCase "bad arguments are refused, naming the parameter, the value and the range"
          <| fun () ->
              argumentError "macPicojoules" [ "0"; "> 0" ] (fun () -> EnergyModel(0.0, 0.9) |> ignore)
              argumentError "sopPicojoules" [ "-1"; "> 0" ] (fun () -> EnergyModel(4.6, -1.0) |> ignore)
              argumentError "macs" [ "-5"; ">= 0" ] (fun () -> EnergyModel.Default.AnnEnergy(-5.0) |> ignore)
              argumentError "timeSteps" [ "0"; ">= 1" ] (fun () -> EnergyModel.Default.SnnEnergy(1.0, 1.0, 0) |> ignore)
              argumentError "sops" [ "NaN"; ">= 0" ] (fun () -> EnergyModel.Default.SnnEnergy(nan, 1.0, 1) |> ignore)

              argumentError "annMacs" [ "0"; "undefined" ] (fun () ->
                  EnergyModel.Default.Ratio(0.0, 0.0, 0.0, 1) |> ignore) ]
