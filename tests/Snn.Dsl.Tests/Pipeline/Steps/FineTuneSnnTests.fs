module Snn.Dsl.Tests.Pipeline.Steps.FineTuneSnnTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private fineTune (change: FineTuneSnn.Parameters -> FineTuneSnn.Parameters) =
    Step.create FineTuneSnn.definition (change FineTuneSnn.defaults)

/// A fine-tune small enough for the test runs: lr 1e-3, batch 32, then `change`.
let private smallFineTune (change: FineTuneSnn.Parameters -> FineTuneSnn.Parameters) =
    fineTune (fun p ->
        change
            { p with
                LearningRate = 1e-3
                BatchSize = 32 })

/// A key added after runs were recorded: `"key": value` is read as `change` says, and the key is
/// not written at its default, so runs recorded before it keep their identity.
let private addedKey (key: string) (value: string) change =
    Expect.equal
        (decodeStep $"""{{"step": "fineTuneSnn", "epochs": 1, "%s{key}": %s{value}}}""")
        (Ok(fineTune (fun p -> change { p with Epochs = 1 })))
        $"%s{key} read"

    Expect.isFalse ((fineTuneSnn 2).Json.AsObject().ContainsKey key) $"%s{key} left at its default is not written"

let private fromRelu =
    Some
        { FineTuneSnn.Teacher = ReluAnn
          FineTuneSnn.Temperature = 4.0
          FineTuneSnn.Alpha = 0.5 }

let private messages steps =
    Plan.problems smallSpecBn None steps |> List.map _.Message

/// A QC ANN at L = 1 converted to the spiking network for T = 1 (no ReLU ANN).
let private converted =
    [ trainClip 1; foldBatchNorm; fineTuneQC [ 1 ] 1; convert; evaluate [ 1 ] ]

/// The fineTuneSnn records of a run, in pipeline order.
let private fineTuneRecords (outcome: Runner.RunOutcome) =
    customRecords outcome.Records |> List.filter (fst >> (=) "fineTuneSnn")

/// Each T's evaluated stage labels (the report's SNN rows).
let private stageLabels (outcome: Runner.RunOutcome) =
    outcome.Results.DualPhase
    |> Array.map (fun d -> d.T, d.Stages |> Array.map _.Label)

// Sequenced: the runs share torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "FineTuneSnn"
        [ test "JSON: epochs are required, the rest defaults (constant rate, no teacher); every field round-trips" {
              Expect.equal (decodeStep """{"step": "fineTuneSnn", "epochs": 2}""") (Ok(fineTuneSnn 2)) "defaults"

              Expect.equal
                  (FineTuneSnn.defaults.Schedule,
                   FineTuneSnn.defaults.Distill,
                   FineTuneSnn.defaults.PerStepLoss,
                   FineTuneSnn.defaults.AverageDecay,
                   FineTuneSnn.defaults.TimeSteps,
                   FineTuneSnn.defaults.LearnThresholds)
                  (Constant, None, false, None, None, false)
                  "the constant rate of the earlier runs, cross-entropy of the readout alone, the last weights"

              let custom =
                  fineTune (fun p ->
                      { p with
                          Epochs = 3
                          LearningRate = 3e-4
                          Schedule = Cosine
                          Distill =
                              Some
                                  { fromRelu.Value with
                                      Teacher = QcAnn 2
                                      Alpha = 0.25 }
                          PerStepLoss = true
                          AverageDecay = Some 0.998
                          TimeSteps = Some [ 2; 4 ]
                          LearnThresholds = true
                          WarmStart = Some { TimeSteps = 1; Epochs = 2 }
                          Gradient = Snn.Core.Calibration.FineTuneGradient.Rate })

              Expect.equal (decodeStep (custom.Json.ToJsonString())) (Ok custom) "round trip"
              Expect.equal (custom.Json["gradient"].GetValue<string>()) "rate" "the rate gradient written"

              Expect.isFalse
                  ((fineTuneSnn 2).Json.AsObject().ContainsKey "gradient")
                  "the surrogate gradient, the default, not written: runs recorded before the key keep their identity"

              Expect.equal
                  (decodeStep """{"step": "fineTuneSnn", "epochs": 1, "gradient": "exact"}""")
                  (Error [ "step.gradient: expected one of \"surrogate\", \"rate\", got \"exact\"" ])
                  "an unknown gradient"

              Expect.isTrue (custom.Json["learn_thresholds"].GetValue<bool>()) "learned thresholds written"

              Expect.equal
                  (custom.Json["warm_start"].ToJsonString())
                  """{"time_steps":1,"epochs":2}"""
                  "the warm start written"

              Expect.isFalse
                  ((fineTuneSnn 2).Json.AsObject().ContainsKey "warm_start")
                  "no warm start, not written: runs recorded before the key keep their identity"

              Expect.equal
                  (decodeStep
                      """{"step": "fineTuneSnn", "epochs": 1, "time_steps": [2], "warm_start": {"time_steps": 1}}""")
                  (Error [ "step.warm_start.epochs: missing: expected an integer" ])
                  "a warm start without its epochs"

              Expect.isFalse
                  ((fineTuneSnn 2).Json.AsObject().ContainsKey "learn_thresholds")
                  "left at false, the key added later is not written: runs recorded before it keep their identity"

              Expect.equal
                  (decodeStep """{"step": "fineTuneSnn", "epochs": 1, "distill": {"teacher": "relu"}}""")
                  (Ok(fineTune (fun p -> { p with Distill = fromRelu })))
                  "tau 4 and alpha 0.5 by default"

              Expect.equal
                  (decodeStep """{"step": "fineTuneSnn", "epochs": 1, "distill": {"alpha": 0.5}}""")
                  (Error [ "step.distill.teacher: missing: expected a string" ])
                  "a distillation without its teacher"

              Expect.equal
                  (decodeStep """{"step": "fineTuneSnn", "epochs": 1, "schedule": "step"}""")
                  (Error
                      [ "step.schedule: expected one of \"cosine\", \"cosine_per_epoch\", \"constant\", got \"step\"" ])
                  "an unknown schedule"

              Expect.equal
                  (FineTuneSnn.definition.Label
                      { FineTuneSnn.defaults with
                          InitialAlpha = 5.0
                          DetachReset = false })
                  "fineTuneSnn (1 epochs, lr 0.0001, alpha 5, reset differentiated)"
                  "the report's row names a surrogate slope other than 2.5 and a differentiated reset"

              addedKey "detach_reset" "false" (fun p -> { p with DetachReset = false })
              addedKey "label_smoothing" "0.1" (fun p -> { p with LabelSmoothing = 0.1 })
              addedKey "batch_norm" "true" (fun p -> { p with BatchNorm = true })

              Expect.equal
                  (FineTuneSnn.definition.Label
                      { FineTuneSnn.defaults with
                          LabelSmoothing = 0.1 })
                  "fineTuneSnn (1 epochs, lr 0.0001, label smoothing 0.1)"
                  "the report's row names the label smoothing"

              Expect.equal
                  (FineTuneSnn.definition.Label
                      { FineTuneSnn.defaults with
                          BatchNorm = true })
                  "fineTuneSnn (1 epochs, lr 0.0001, batch norm)"
                  "the report's row names the batch normalisation"
          }

          test
              "validation names the step and the field: a teacher no step makes, tau, alpha, the average's decay and the label smoothing out of range, a T with no spiking network, smoothing with a teacher" {
              Expect.equal
                  (messages (
                      converted
                      @ [ fineTune (fun p -> { p with Distill = fromRelu })
                          fineTune (fun p ->
                              { p with
                                  Distill =
                                      Some
                                          { fromRelu.Value with
                                              Teacher = ClipAnn
                                              Temperature = 0.0
                                              Alpha = 1.5 } })
                          fineTune (fun p -> { p with AverageDecay = Some 1.0 })
                          fineTune (fun p ->
                              { p with
                                  Gradient = Snn.Core.Calibration.FineTuneGradient.Rate
                                  InitialAlpha = 5.0
                                  DetachReset = false })
                          fineTune (fun p -> { p with TimeSteps = Some [] })
                          fineTune (fun p -> { p with TimeSteps = Some [ 1; 2; 4 ] })
                          fineTune (fun p -> { p with LabelSmoothing = 1.0 }) ]
                  ))
                  [ "step 5 (fineTuneSnn): distill.teacher = \"relu\" needs the ReLU ANN, which no earlier step makes"
                    "step 6 (fineTuneSnn): distill.temperature = 0 is out of range: expected a finite value > 0"
                    "step 6 (fineTuneSnn): distill.alpha = 1.5 is out of range: expected [0, 1] (the weight of the teacher's term)"
                    "step 7 (fineTuneSnn): average_decay = 1 is out of range: expected [0, 1) (the weight of the old average at each step), or null for none"
                    "step 8 (fineTuneSnn): initial_alpha = 5 has no use with gradient \"rate\": expected the surrogate gradient (\"surrogate\") or no initial_alpha"
                    "step 8 (fineTuneSnn): detach_reset = false has no use with gradient \"rate\" (no gradient flows through time): expected the surrogate gradient (\"surrogate\") or no detach_reset"
                    "step 9 (fineTuneSnn): time_steps = [] is empty: expected at least one T, or null for every spiking network"
                    "step 10 (fineTuneSnn): time_steps asks for T = 2, 4, which has no spiking network here (the earlier steps make them for T = 1)"
                    "step 11 (fineTuneSnn): label_smoothing = 1 is out of range: expected [0, 1) (the share of the target spread over the classes)" ]
                  "every problem"

              Expect.isEmpty
                  (messages (trainRelu 1 :: converted @ [ fineTune (fun p -> { p with Distill = fromRelu }) ]))
                  "the ReLU ANN made earlier"

              Expect.equal
                  (messages (
                      trainRelu 1 :: converted
                      @ [ fineTune (fun p ->
                              { p with
                                  Distill = fromRelu
                                  LabelSmoothing = 0.1 }) ]
                  ))
                  [ "step 6 (fineTuneSnn): label_smoothing has no use with distill (the teacher's soft targets replace it): expected one of the two" ]
                  "label smoothing and a teacher together"

              Expect.equal
                  (messages (
                      converted
                      @ [ fineTune (fun p ->
                              { p with
                                  BatchNorm = true
                                  AverageDecay = Some 0.9 }) ]
                  ))
                  [ "step 5 (fineTuneSnn): batch_norm cannot be combined with average_decay (the batch statistics are not averaged): expected one of the two" ]
                  "batch norm and averaged weights together"

              let biasless =
                  network (Image(1, 28, 28)) [ convFull 8 3 1 1 1 1 false; act; avgPool 2; flatten; linear 10 ]

              let normed = fineTune (fun p -> { p with BatchNorm = true })

              Expect.equal
                  (Plan.problems biasless None [ trainClip 1; fineTuneQC [ 1 ] 1; convert; normed ]
                   |> List.map _.Message)
                  [ "step 3 (fineTuneSnn): batch_norm folds into each synapse's bias, and layer 0 (conv 8 (3x3, stride 1, pad 1)) of the T = 1 network has none: expected convolutions and hidden linear layers with a bias (batch norm folded, or bias = true)" ]
                  "a convolution without a bias, named before any compute"
          }

          test
              "validation of a warm start: its epochs, the T it grows from (a network must exist there), and time_steps without it" {
              let warm t e =
                  Some({ TimeSteps = t; Epochs = e }: FineTuneSnn.WarmStart)

              Expect.equal
                  (messages (
                      converted
                      @ [ fineTune (fun p -> { p with WarmStart = warm 1 1 })
                          fineTune (fun p ->
                              { p with
                                  TimeSteps = Some [ 4 ]
                                  WarmStart = warm 2 1 })
                          fineTune (fun p ->
                              { p with
                                  TimeSteps = Some [ 1; 2 ]
                                  WarmStart = warm 1 0 }) ]
                  ))
                  [ "step 5 (fineTuneSnn): warm_start needs time_steps: the T of the networks grown from the T = 1 network (null would include that network itself)"
                    "step 6 (fineTuneSnn): warm_start.time_steps = 2 has no spiking network here (the earlier steps make them for T = 1)"
                    "step 7 (fineTuneSnn): warm_start.epochs = 0 is out of range: expected [1, 100000]"
                    "step 7 (fineTuneSnn): time_steps contains T = 1, the warm start's own T: expected only the T of the networks grown from it" ]
                  "every problem"

              Expect.isEmpty
                  (messages (
                      converted
                      @ [ fineTune (fun p ->
                              { p with
                                  TimeSteps = Some [ 2; 4 ]
                                  WarmStart = warm 1 1 })
                          evaluate [ 1; 2; 4 ] ]
                  ))
                  "T = 2 and 4 grown from T = 1: no convert at those T is needed, and later steps see them"
          }

          test
              "a warm start fine-tunes a copy of the T = 1 network at T = 1 first, exactly as a plain fine-tune there would, and leaves the T = 1 network as it was" {
              let folder = tempFolder "finetune-snn-warm"

              let grown =
                  smallFineTune (fun p ->
                      { p with
                          TimeSteps = Some [ 2 ]
                          WarmStart = Some { TimeSteps = 1; Epochs = 1 } })

              let plain = smallFineTune (fun p -> { p with TimeSteps = Some [ 1 ] })

              let steps = converted @ [ grown; evaluate [ 1; 2 ]; plain ]
              let outcome = run (Recorder()) (experiment folder smallSpecBn steps)

              let curve (r: System.Text.Json.Nodes.JsonNode) =
                  r["held_out_accuracy"].AsArray()
                  |> Seq.map (fun a -> a.GetValue<float>())
                  |> List.ofSeq

              match fineTuneRecords outcome with
              | [ _, g; _, p ] ->
                  Expect.equal (g["T"].GetValue<int>()) 2 "the grown network's T"
                  let warm = g["warm_start"]
                  Expect.equal (warm["T"].GetValue<int>()) 1 "its warm start at T = 1"
                  Expect.equal (p["T"].GetValue<int>()) 1 "the plain fine-tune at T = 1"

                  Expect.equal
                      (curve warm)
                      (curve p)
                      "the warm stage is a plain fine-tune at T = 1 from the same network (which it did not change)"

                  Expect.equal (curve g).Length 2 "then one epoch at T = 2, its start scored at T = 2"
              | rs -> failtestf "expected two fineTuneSnn records, got %d" rs.Length

              let label =
                  "fineTuneSnn (1 epochs, lr 0.001, batch 32, from T = 1 after 1 epochs there, at T = 2)"

              let stages = stageLabels outcome

              Expect.equal (Array.map fst stages) [| 1; 2 |] "T = 2 evaluated though only T = 1 was converted"
              Expect.contains (snd stages[1]) label "T = 2's row names the warm start"
              Directory.Delete(folder, true)
          }

          test
              "label smoothing changes the objective, batch norm the training forward: the same start and batches give other training losses" {
              let losses change =
                  let folder = tempFolder "finetune-snn-losses"

                  let tuned = smallFineTune change

                  let outcome =
                      run (Recorder()) (experiment folder smallSpecBn (converted @ [ tuned ]))

                  Directory.Delete(folder, true)

                  match fineTuneRecords outcome with
                  | [ _, r ] ->
                      let values (key: string) =
                          r[key].AsArray() |> Seq.map (fun a -> a.GetValue<float>()) |> List.ofSeq

                      values "held_out_accuracy" |> List.head, values "train_loss"
                  | rs -> failtestf "expected one fineTuneSnn record, got %d" rs.Length

              let start, plain = losses id
              let smoothedStart, smoothed = losses (fun p -> { p with LabelSmoothing = 0.5 })
              let normedStart, normed = losses (fun p -> { p with BatchNorm = true })
              Expect.equal [ smoothedStart; normedStart ] [ start; start ] "the same network before the fine-tune"
              Expect.equal plain.Length 1 "one epoch's mean training loss"
              Expect.notEqual smoothed plain "the smoothed cross-entropy was minimised, not the plain one"
              Expect.notEqual normed plain "the batch-normalised network was trained, not the plain one"
          }

          test
              "with a cosine rate, a teacher, learned thresholds and the rate gradient it runs at the T asked for, records its held-out history and thresholds, and the report names the settings" {
              let folder = tempFolder "finetune-snn"

              let tuned =
                  fineTune (fun p ->
                      { p with
                          LearningRate = 1e-3
                          Schedule = Cosine
                          BatchSize = 32
                          Distill = fromRelu
                          TimeSteps = Some [ 2 ]
                          LearnThresholds = true
                          Gradient = Snn.Core.Calibration.FineTuneGradient.Rate })

              let steps =
                  [ trainRelu 1
                    trainClip 1
                    foldBatchNorm
                    fineTuneQC [ 1; 2 ] 1
                    convert
                    evaluate [ 1; 2 ]
                    tuned
                    evaluate [ 1; 2 ]
                    report ]

              let outcome = run (Recorder()) (experiment folder smallSpecBn steps)

              match fineTuneRecords outcome with
              | [ _, r ] ->
                  Expect.equal (r["held_out_accuracy"].AsArray().Count) 2 "before and after the epoch"
                  Expect.equal (r["T"].GetValue<int>()) 2 "the spiking network's T, the one asked for"
                  let thresholds = r["thresholds"].AsArray()
                  Expect.isNonEmpty thresholds "the learned thresholds recorded, one entry per neuron layer"

                  for entry in thresholds do
                      Expect.isGreaterThan (entry["after"].GetValue<float>()) 0.0 "each theta > 0"

                  Expect.exists
                      thresholds
                      (fun e -> e["after"].GetValue<float>() <> e["before"].GetValue<float>())
                      "some theta moved"
              | rs -> failtestf "expected one fineTuneSnn record, got %d" rs.Length

              let label =
                  "fineTuneSnn (1 epochs, lr 0.001 cosine, batch 32, from the ReLU ANN (tau 4, alpha 0.5), thresholds learned, rate gradient, at T = 2)"

              let stages = stageLabels outcome

              Expect.equal stages [| 1, [| "phase1" |]; 2, [| "phase1"; label |] |] "the SNN rows: T = 1 untouched"
              let report = File.ReadAllText(Path.Combine(folder, "report.md"))
              Expect.stringContains report label "the report's row"
              Directory.Delete(folder, true)
          } ]
