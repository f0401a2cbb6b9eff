module Snn.Dsl.Tests.Pipeline.Steps.FineTuneClipTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines
open Snn.Dsl.Tests.Pipeline.ImportedPipelines

let private withLearningRate epochs lr =
    Step.create
        FineTuneClip.definition
        { FineTuneClip.defaults with
            Epochs = epochs
            Optimizer =
                { FineTuneClip.defaults.Optimizer with
                    LearningRate = lr } }

// Sequenced: the runs share torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "FineTuneClip"
        [ test
              "JSON: epochs are required, the optimizer defaults to lr 1e-3 without weight decay; every field round-trips" {
              Expect.equal (decodeStep """{"step": "fineTuneClip", "epochs": 2}""") (Ok(fineTuneClip 2)) "defaults"
              let custom = withLearningRate 3 0.01
              Expect.equal (decodeStep (custom.Json.ToJsonString())) (Ok custom) "round trip"
              Expect.equal FineTuneClip.defaults.Optimizer.LearningRate 1e-3 "lr"
              Expect.equal FineTuneClip.defaults.Optimizer.WeightDecay 0.0 "weight decay"

              Expect.equal
                  (decodeStep """{"step": "fineTuneClip"}""")
                  (Error [ "step.epochs: missing: expected an integer" ])
                  "epochs missing"
          }

          test "validation: no clip ANN, epochs and learning rate out of range" {
              Expect.equal
                  (Plan.problems smallSpec None [ fineTuneClip 1; withLearningRate -1 0.0 ]
                   |> List.map _.Message)
                  [ "step 0 (fineTuneClip): needs the clip ANN, which no earlier step makes"
                    "step 1 (fineTuneClip): epochs = -1 is out of range: expected [0, 100000]"
                    "step 1 (fineTuneClip): optimizer.learning_rate = 0 is out of range: expected (0, 10]"
                    "step 1 (fineTuneClip): needs the clip ANN, which no earlier step makes" ]
                  "every problem"

              Expect.isEmpty
                  (Plan.problems
                      smallSpecBn
                      None
                      [ trainClip 1
                        fineTuneClip 1
                        fineTuneClip 1
                        foldBatchNorm
                        fineTuneQC [ 1 ] 1 ])
                  "after trainClip too, and more than once"
          }

          test
              "it continues from the clip ANN's weights and thresholds: with a negligible learning rate the thresholds stay" {
              let folder = tempFolder "fine-tune-clip"
              let file = fashionFile 9 None

              let outcome =
                  run
                      (Recorder())
                      (experiment
                          folder
                          file
                          [ Step.create ImportAnn.definition { ReferenceImages = 0 }
                            Step.create ClipFromRelu.definition { Percentile = 99.0; Images = 256 }
                            withLearningRate 1 1e-12 ])

              match annRecords ClipAnn outcome.Records with
              | [ made; tuned ] ->
                  Expect.equal tuned.History.Length 1 "one epoch"
                  Expect.equal tuned.History[0].LearningRate 1e-12 "the learning rate used"

                  for a, b in Array.zip made.Thresholds tuned.Thresholds do
                      Expect.equal b.Layer a.Layer "layer"
                      Expect.floatClose Accuracy.veryHigh b.Threshold a.Threshold $"{a.Layer}: the start's threshold"

                  Expect.isFalse (made.Thresholds |> Array.exists (fun t -> t.Threshold = 1.0)) "not a fresh network's"
              | rs -> failtestf "expected the clip ANN made and fine-tuned, got %d records" rs.Length

              Directory.Delete(folder, true)
              File.Delete file
          } ]
