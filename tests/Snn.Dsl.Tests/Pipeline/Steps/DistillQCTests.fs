module Snn.Dsl.Tests.Pipeline.Steps.DistillQCTests

open System
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private distill (change: DistillQC.Parameters -> DistillQC.Parameters) =
    Step.create
        DistillQC.definition
        (change
            { DistillQC.defaults with
                TimeSteps = [ 1 ] })

let private messages steps =
    Plan.problems smallSpecBn None steps |> List.map _.Message

/// ReLU and clip ANNs trained, the clip ANN folded.
let private anns = [ trainRelu 1; trainClip 1; foldBatchNorm ]

/// A progress sink that fails the run when a line starts with `prefix` (an interruption).
type private StopAt(prefix: string) =
    let inner = Recorder()
    member _.Lines = inner.Lines

    interface IProgressSink with
        member _.Log m =
            (inner :> IProgressSink).Log m

            if m.StartsWith prefix then
                raise (OperationCanceledException $"stopped at '{m}'")

        member _.Start(name, total) =
            (inner :> IProgressSink).Start(name, total)

let private label epochs teacher =
    $"distillQC (%s{teacher} teacher, tau 4, alpha 0.9, %d{epochs} epochs)"

// Sequenced: the runs share torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "DistillQC"
        [ test "JSON: teacher, time steps and epochs are required, the rest defaults; every field round-trips" {
              Expect.equal
                  (decodeStep """{"step": "distillQC", "teacher": "relu", "time_steps": [1, 2, 4], "epochs": 1}""")
                  (Ok(distillQC [ 1; 2; 4 ] 1))
                  "defaults"

              let custom =
                  distill (fun p ->
                      { p with
                          Teacher = ClipAnn
                          TimeSteps = [ 2; 1 ]
                          Epochs = 3
                          Temperature = 2.5
                          Alpha = 0.25
                          NoiseProbability = 0.2
                          FitThresholds = Some false
                          Optimizer = { p.Optimizer with LearningRate = 0.01 } })

              Expect.equal (decodeStep (custom.Json.ToJsonString())) (Ok custom) "round trip"
              Expect.equal (custom.Json["teacher"].GetValue<string>()) "clip" "the teacher by name"

              Expect.equal
                  (DistillQC.defaults.Temperature,
                   DistillQC.defaults.Alpha,
                   DistillQC.defaults.NoiseProbability,
                   DistillQC.defaults.Optimizer)
                  (4.0, 0.9, FineTuneQC.defaults.NoiseProbability, FineTuneQC.defaults.Optimizer)
                  "tau 4, alpha 0.9, fineTuneQC's noise and optimizer"

              Expect.equal
                  (decodeStep """{"step": "distillQC", "teacher": "qc", "time_steps": [1], "epochs": 1}""")
                  (Error [ "step.teacher: expected one of \"relu\", \"clip\", got \"qc\"" ])
                  "an unknown teacher"

              Expect.equal
                  (decodeStep """{"step": "distillQC", "time_steps": [1], "epochs": 1}""")
                  (Error [ "step.teacher: missing: expected one of \"relu\", \"clip\"" ])
                  "no teacher"
          }

          test "validation names the step and the field: a teacher no step makes, tau, alpha, p and epochs out of range" {
              Expect.equal
                  (messages
                      [ trainClip 1
                        foldBatchNorm
                        fineTuneQC [ 1 ] 1
                        distillQC [ 1 ] 1
                        distill (fun p ->
                            { p with
                                Teacher = ClipAnn
                                Temperature = 0.0
                                Alpha = 1.5
                                NoiseProbability = 1.0
                                Epochs = -1 }) ])
                  [ "step 3 (distillQC): teacher = \"relu\" needs the ReLU ANN, which no earlier step makes"
                    "step 4 (distillQC): epochs = -1 is out of range: expected [0, 100000]"
                    "step 4 (distillQC): temperature = 0 is out of range: expected a finite value > 0"
                    "step 4 (distillQC): alpha = 1.5 is out of range: expected [0, 1] (the weight of the teacher's term)"
                    "step 4 (distillQC): noise_probability = 1 is out of range: expected [0, 1)" ]
                  "every problem"

              Expect.equal
                  (messages [ trainRelu 1; distillQC [ 1 ] 1 ])
                  [ "step 1 (distillQC): needs the QC ANN at L = 1 (add fineTuneQC before distillQC) or the folded clip ANN to start it from, which no earlier step makes" ]
                  "nothing to distil"

              Expect.equal
                  (messages [ trainRelu 1; trainClip 1; distillQC [ 1 ] 1 ])
                  [ "step 2 (distillQC): needs the clip ANN with batch norm folded: add foldBatchNorm before this step" ]
                  "an unfolded clip ANN to start from"

              Expect.equal
                  (messages (
                      anns
                      @ [ fineTuneQC [ 1 ] 1; distill (fun p -> { p with FitThresholds = Some true }) ]
                  ))
                  [ "step 4 (distillQC): fit_thresholds applies only where distillQC starts a QC ANN from the clip ANN; step 3 made the QC ANN at L = 1: leave fit_thresholds out" ]
                  "fit_thresholds where nothing is started"

              Expect.isEmpty
                  (messages (anns @ [ distill (fun p -> { p with FitThresholds = Some false }); convert ]))
                  "fit_thresholds where distillQC starts the QC ANN"

              Expect.isEmpty
                  (messages (
                      anns
                      @ [ fineTuneQC [ 1; 2 ] 1; distillQC [ 1 ] 1; distillQC [ 1; 2 ] 1; convert ]
                  ))
                  "more than once, on some of the QC ANNs"
          }

          test "Phase II after distillQC needs a convert in between: it calibrates against the ANN it converted" {
              let potential, weights = Profiles.smallPhaseTwo 256 256 128
              let before = anns @ [ fineTuneQC [ 1 ] 1; convert ]

              Expect.equal
                  (messages (before @ [ distillQC [ 1 ] 1; phaseTwo [ potential; weights ] ]))
                  [ "step 6 (phaseTwo): the spiking network for T = 1 was converted from the QC ANN at L = 1 before step 5 replaced that ANN, and calibration needs the ANN it was converted from: add convert after step 5" ]
                  "stale source"

              Expect.isEmpty
                  (messages (
                      before
                      @ [ distillQC [ 1 ] 1; convert; ablation [ potential ]; phaseTwo [ potential ] ]
                  ))
                  "converted again"
          }

          test
              "after fineTuneQC it trains the QC ANN on, convert uses it, and the report shows both QC ANNs and both SNN rows" {
              let folder = tempFolder "distill"

              let steps =
                  anns
                  @ [ fineTuneQC [ 1 ] 1
                      convert
                      evaluate [ 1 ]
                      distillQC [ 1 ] 2
                      convert
                      evaluate [ 1 ]
                      report ]

              let outcome = run (Recorder()) (experiment folder smallSpecBn steps)

              match ImportedPipelines.annRecords (QcAnn 1) outcome.Records with
              | [ tuned; distilled ] ->
                  Expect.equal tuned.History.Length 1 "fineTuneQC's epoch"
                  Expect.equal distilled.History.Length 2 "distillQC's epochs"
                  Expect.notEqual distilled.Thresholds tuned.Thresholds "the thresholds are learned on"
              | rs -> failtestf "expected two records of the QC ANN, got %d" rs.Length

              let d = outcome.Results.DualPhase |> Array.exactlyOne
              let stages = d.QcAnnStages

              Expect.equal
                  (stages |> Array.map _.Label)
                  [| "noisy-QC fine-tune"; label 2 "relu" |]
                  "the QC ANN after each step"

              Expect.equal d.QcAnnTestAccuracy stages[1].TestAccuracy "the QC ANN as the pipeline left it"

              Expect.equal
                  (d.Stages |> Array.map _.Label)
                  [| "phase1"; $"""phase1 + {label 2 "relu"}""" |]
                  "the SNN rows before and after"

              // At T = 1 the converted SNN equals its QC ANN: the second conversion used the distilled
              // QC ANN exactly when the row after it equals that ANN's accuracy on the SNN test images.
              let e = experiment folder smallSpecBn steps
              use data = new RunData(e.Data, None)
              use distilledNet = (Run folder).Ann(QcAnn 1)

              Expect.floatClose
                  Accuracy.veryHigh
                  d.Stages[1].Accuracy
                  (Evaluation.annAccuracy distilledNet data.SnnTestBatches)
                  "the SNN after distillation is the distilled QC ANN's"

              Expect.equal d.Snn.Phase1 d.Stages[1].Accuracy "Phase I is the distilled network's"

              let compared = outcome.Results.Statistics.Stages |> Array.exactlyOne
              Expect.equal (compared.Baseline, compared.Candidate) (d.Stages[0].Label, d.Stages[1].Label) "McNemar"

              let report = File.ReadAllText(Path.Combine(folder, "report.md"))
              Expect.stringContains report $"""| 1 | {label 2 "relu"} | """ "the QC ANN rows"
              Expect.stringContains report $"""| phase1 + {label 2 "relu"} vs phase1 |""" "the SNN comparison"
              Directory.Delete(folder, true)
          }

          test "an interrupted distillation resumes after its last finished epoch and ends as an uninterrupted one" {
              let steps =
                  anns @ [ fineTuneQC [ 1 ] 1; distillQC [ 1 ] 2; convert; evaluate [ 1 ] ]

              let whole = tempFolder "distill-whole"
              let killed = tempFolder "distill-killed"
              let uninterrupted = run (Recorder()) (experiment whole smallSpecBn steps)
              let stop = StopAt "distill-L1: epoch 1/2"

              Expect.throwsT<OperationCanceledException>
                  (fun () -> run stop (experiment killed smallSpecBn steps) |> ignore)
                  "stopped after the first epoch"

              let again = Recorder()
              let resumed = run again (experiment killed smallSpecBn steps)

              Expect.isTrue
                  (again.Lines
                   |> List.exists (fun l -> l.StartsWith "distill-L1: resuming after epoch 1 of 2"))
                  "says it resumes"

              Expect.isFalse
                  (again.Lines |> List.exists (fun l -> l.StartsWith "distill-L1: epoch 1/2"))
                  "the finished epoch is not trained again"

              Expect.equal
                  (ImportedPipelines.annRecords (QcAnn 1) resumed.Records
                   |> List.map (fun r -> r.TestAccuracy, r.Thresholds))
                  (ImportedPipelines.annRecords (QcAnn 1) uninterrupted.Records
                   |> List.map (fun r -> r.TestAccuracy, r.Thresholds))
                  "the same QC ANNs"

              Expect.equal
                  (resumed.Results.DualPhase |> Array.map _.Snn.Phase1)
                  (uninterrupted.Results.DualPhase |> Array.map _.Snn.Phase1)
                  "the same SNN"

              Directory.Delete(whole, true)
              Directory.Delete(killed, true)
          }

          test "without fineTuneQC it starts the QC ANN from the folded clip ANN, thresholds fitted, and distils it" {
              let folder = tempFolder "distill-alone"
              let recorder = Recorder()

              let outcome =
                  run
                      recorder
                      (experiment
                          folder
                          smallSpecBn
                          (anns
                           @ [ distill (fun p -> { p with Teacher = ClipAnn }); convert; evaluate [ 1 ] ]))

              Expect.isTrue
                  (recorder.Lines
                   |> List.exists (fun l -> l.StartsWith "finetune-L1: QC ANN before fine-tuning"))
                  "the thresholds fitted as fineTuneQC fits them"

              let started =
                  customRecords outcome.Records
                  |> List.filter (fun (s, _) -> s = "distillQC")
                  |> List.map (fun (_, v) -> v["started_from"].GetValue<string>())

              Expect.equal started [ "clip_ann" ] "started from the clip ANN"
              Expect.equal (ImportedPipelines.annRecords (QcAnn 1) outcome.Records).Length 1 "one QC ANN record"
              let d = outcome.Results.DualPhase |> Array.exactlyOne
              Expect.equal (d.QcAnnStages |> Array.map _.Label) [| label 1 "clip" |] "its only stage"
              Expect.equal (d.Stages |> Array.map _.Label) [| $"""phase1 + {label 1 "clip"}""" |] "its SNN row"
              Directory.Delete(folder, true)
          }

          testList
              "slow"
              [ test "the tiny profile with fineTuneQC + distillQC runs end to end, Phase II on the distilled networks" {
                    let folder = tempFolder "distill-tiny"

                    let tiny =
                        { Profiles.tiny with
                            OutputFolder = folder
                            Pipeline =
                                Profiles.tiny.Pipeline
                                |> List.collect (fun s ->
                                    if s.Name = "fineTuneQC" then
                                        distilledQC 1 1 [ 1; 2 ]
                                    else
                                        [ s ]) }

                    let r = (run (Recorder()) tiny).Results

                    for d in r.DualPhase |> Array.filter (fun d -> d.T <= 2) do
                        Expect.equal
                            (d.QcAnnStages |> Array.map _.Label)
                            [| "noisy-QC fine-tune"; label 1 "relu" |]
                            $"T = {d.T}: the QC ANN before and after"

                        Expect.equal
                            (d.Stages |> Array.map _.Label |> Array.take 2)
                            [| "phase1"; $"""phase1 + {label 1 "relu"}""" |]
                            $"T = {d.T}: the SNN rows before and after"

                        Expect.isFalse (Double.IsNaN d.Snn.Final) $"T = {d.T}: Phase II ran"

                    Expect.isTrue (File.Exists(Path.Combine(folder, "report.md"))) "the report"
                    Directory.Delete(folder, true)
                } ] ]
