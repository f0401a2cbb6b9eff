/// Steps defined outside Snn.Dsl (TestPipelines.fs) plug into pipelines: they are validated from
/// their declarations, run in the order written, and read from JSON once registered.
module Snn.Dsl.Tests.Pipeline.CustomStepTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private notes (records: Record list) =
    customRecords records
    |> List.filter (fun (s, _) -> s = "note")
    |> List.map (fun (_, v) -> v.GetValue<string>())

// Sequenced: runs draw initial weights from torch's process-wide generator.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "CustomSteps"
        [ test "steps run in the order written, and a repeated step runs again" {
              let folder = tempFolder "order"

              let steps =
                  [ Step.create note { Label = "b" }
                    Step.create note { Label = "a" }
                    Step.create note { Label = "b" } ]

              let outcome = run (Recorder()) (experiment folder smallSpec steps)
              Expect.equal (notes outcome.Records) [ "b"; "a"; "b" ] "order as written, the duplicate included"
              Directory.Delete(folder, true)
          }

          test "a custom layer step runs inside phaseTwo layer by layer, repeated steps included" {
              let folder = tempFolder "layers"
              calls.Clear()

              let t name = LayerStep.create tag { Tag = name }

              let steps =
                  [ Step.create randomQc { Levels = 2 }
                    convert
                    phaseTwo [ t "x"; t "y"; t "x" ] ]

              let outcome = run (Recorder()) (experiment folder smallSpec steps)

              Expect.equal
                  (List.ofSeq calls)
                  [ "x", 0; "y", 0; "x", 0; "x", 1; "y", 1; "x", 1 ]
                  "for each layer, each step in turn (PAPER.md's order)"

              let phase2 =
                  outcome.Records
                  |> List.choose (function
                      | PhaseTwoDone p -> Some p.Operations
                      | _ -> None)

              Expect.equal
                  phase2
                  [ [ CustomLayerOperation "tag"
                      CustomLayerOperation "tag"
                      CustomLayerOperation "tag" ] ]
                  "recorded in the lineage"

              Directory.Delete(folder, true)
          }

          test "a pruning step defined in a test changes the clip ANN that the next steps evaluate" {
              let folder = tempFolder "prune"

              let steps =
                  [ trainClip 1
                    Step.create prune { Fraction = 0.5 }
                    evaluateDirect [ 1; 2 ]
                    report ]

              let recorder = Recorder()
              let outcome = run recorder (experiment folder smallSpec steps)

              let zeroed =
                  customRecords outcome.Records
                  |> List.pick (fun (s, v) -> if s = "prune" then Some(v.GetValue<int64>()) else None)

              Expect.isGreaterThan zeroed 0L "weights were zeroed"

              let order =
                  outcome.Records
                  |> List.map (function
                      | AnnTrained _ -> "train"
                      | CustomRecord("prune", _) -> "prune"
                      | SnnEvaluated _ -> "evaluate"
                      | _ -> "other")
                  |> List.distinct

              Expect.equal order [ "train"; "prune"; "evaluate" ] "trained, pruned, then evaluated"
              Expect.equal (outcome.Results.DualPhase |> Array.map _.T) [| 1; 2 |] "direct conversion at T = 1, 2"
              Expect.isTrue (File.Exists(Path.Combine(folder, "report.md"))) "the report step wrote the report"
              Directory.Delete(folder, true)
          }

          test "a registered custom step is read from an experiment's JSON and validated like a library step" {
              Registry.register prune

              let e =
                  experiment "runs/x" smallSpec [ trainClip 1; Step.create prune { Fraction = 0.25 } ]

              Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) "round trip"

              let bad = experiment "runs/x" smallSpec [ Step.create prune { Fraction = 1.5 } ]

              Expect.equal
                  (Experiment.validate bad)
                  (Error
                      [ "step 0 (prune): fraction = 1.5 is out of range: expected [0, 1)"
                        "step 0 (prune): needs the clip ANN, which no earlier step makes" ])
                  "parameters and needs"
          } ]
