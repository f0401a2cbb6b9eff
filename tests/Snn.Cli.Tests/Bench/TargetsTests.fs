module Snn.Cli.Tests.Bench.TargetsTests

open System.Text.Json.Nodes
open Expecto
open Snn.Cli.Bench.Targets

let private sim (t: int) (ratio: float) (naive: float) =
    JsonObject(
        dict
            [ "T", JsonValue.Create t :> JsonNode
              "ratio", JsonValue.Create ratio
              "naive_ratio", JsonValue.Create naive ]
    )

let private train (clip: float) (qc: float) =
    JsonObject(dict [ "clip", JsonValue.Create clip :> JsonNode; "noisy_qc", JsonValue.Create qc ])

let private holds (targets: Target list) =
    targets |> List.map (fun t -> t.Name, t.Holds)

[<Tests>]
let tests =
    testList
        "Bench.Targets"
        [ testCase "the targets line reads as snn bench printed it before the split"
          <| fun () ->
              Expect.equal
                  summary
                  "sim_ratio <= 1.0 for T >= 2 and <= naive_ratio; clip and noisy-QC epochs <= 1.15 x ReLU; phase2_share <= 0.25; peak at T=32 <= 3072 MB"
                  "summary"

          testCase "every figure is checked against its bound, T = 1 only against the naive loop"
          <| fun () ->
              let targets =
                  all [ sim 1 1.2 1.3; sim 2 0.9 1.5; sim 4 1.1 1.0 ] (train 1.10 1.20) 0.25 3073.0

              Expect.equal
                  (holds targets)
                  [ "sim_ratio(T=1) <= naive_ratio", true
                    "sim_ratio(T=2) <= 1.0", true
                    "sim_ratio(T=2) <= naive_ratio", true
                    "sim_ratio(T=4) <= 1.0", false
                    "sim_ratio(T=4) <= naive_ratio", false
                    "clip epoch <= 1.15 x ReLU", true
                    "noisy-QC epoch <= 1.15 x ReLU", false
                    "phase2_share <= 0.25", true
                    "peak working set at T=32 <= 3072 MB", false ]
                  "names and outcomes"

          testCase "a target holds at its bound and not above it"
          <| fun () ->
              let at =
                  { Name = "x"
                    Measured = 1.15
                    Bound = 1.15 }

              Expect.isTrue at.Holds "at the bound"
              Expect.isFalse { at with Measured = 1.1500001 }.Holds "above" ]
