module Snn.Dsl.Tests.Pipeline.Steps.EvaluateTests

open System.IO
open Expecto
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private madeFor (ms: int list) (ts: int list) =
    Step.create
        Evaluate.definition
        { Evaluate.defaults with
            TimeSteps = ts
            MadeFor = Some ms
            Anatomy = false }

let private messages steps =
    Plan.problems smallSpecBn None steps |> List.map _.Message

/// QC ANNs at L = 1 and 2 converted to the spiking networks for T = 1 and 2.
let private converted =
    [ trainClip 1; foldBatchNorm; fineTuneQC [ 1; 2 ] 1; convert ]

/// The SNN evaluation rows of a run as (made for, T, probe, accuracy), in pipeline order.
let private rows (outcome: Runner.RunOutcome) =
    outcome.Records
    |> List.choose (function
        | SnnEvaluated r -> Some(r.MadeFor, r.T, r.Probe, r.Accuracy)
        | _ -> None)

// Sequenced: the run shares torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Evaluate"
        [ test "JSON: made_for round-trips, is not written when absent, and the label names the networks" {
              let step = madeFor [ 1; 4 ] [ 1; 2; 4; 8 ]
              Expect.equal (decodeStep (step.Json.ToJsonString())) (Ok step) "round trip"
              Expect.equal (step.Json["made_for"].ToJsonString()) "[1,4]" "written"

              Expect.isFalse
                  ((evaluate [ 1; 2 ]).Json.AsObject().ContainsKey "made_for")
                  "absent, not written: runs recorded before the key keep their identity"

              Expect.equal step.Label "evaluate the networks made for T = 1, 4 (T = 1, 2, 4, 8)" "label"
          }

          test "validation: made_for with an ANN, empty, with duplicates, or naming a T no step made a network for" {
              let withAnn =
                  Step.create
                      Evaluate.definition
                      { Evaluate.defaults with
                          TimeSteps = [ 1 ]
                          Network = Some Snn.Dsl.Pipeline.ClipAnn
                          MadeFor = Some [ 1 ] }

              Expect.equal
                  (messages (
                      converted
                      @ [ withAnn; madeFor [] [ 1 ]; madeFor [ 1; 1 ] [ 2 ]; madeFor [ 4 ] [ 2 ] ]
                  ))
                  [ "step 4 (evaluate): made_for names spiking networks, and network an ANN converted as it is: expected one of the two"
                    "step 5 (evaluate): made_for = [] is empty: expected at least one T, or null for the network that serves each T"
                    "step 6 (evaluate): made_for = [1, 1] contains duplicates: expected each T once"
                    "step 7 (evaluate): made_for asks for the network made for T = 4, which no earlier step makes (they make them for T = 1, 2)" ]
                  "every problem"
          }

          test
              "the T = 1 network scored at T = 1, 2, 3: its own T as evaluate scores it, the others probes that never become a T's figures" {
              let folder = tempFolder "evaluate-made-for"

              let steps = converted @ [ evaluate [ 1; 2; 3 ]; madeFor [ 1 ] [ 1; 2; 3 ]; report ]

              let outcome = run (Recorder()) (experiment folder smallSpecBn steps)

              match rows outcome with
              | [ (Some 1, 1, false, own)
                  (Some 2, 2, false, t2)
                  (Some 2, 3, false, t3)
                  (Some 1, 1, false, again)
                  (Some 1, 2, true, _)
                  (Some 1, 3, true, _) ] ->
                  Expect.equal again own "the T = 1 network at T = 1: the same images, the same figure"

                  let phase1 t =
                      outcome.Results.DualPhase |> Array.find (fun d -> d.T = t) |> _.Snn.Phase1

                  Expect.equal
                      (phase1 2, phase1 3)
                      (t2, t3)
                      "T = 2 and 3 keep the T = 2 network as their Phase I figure"
              | rs -> failtestf "unexpected evaluation rows %A" rs

              let t2Stages = (outcome.Results.DualPhase |> Array.find (fun d -> d.T = 2)).Stages

              Expect.exists
                  t2Stages
                  (fun s -> s.Probe && s.Label.EndsWith "(made for T = 1)")
                  "T = 2's stages show the T = 1 network, as a probe"

              let report = File.ReadAllText(Path.Combine(folder, "report.md"))
              Expect.stringContains report "(made for T = 1)" "the report's row"
              Directory.Delete(folder, true)
          } ]
