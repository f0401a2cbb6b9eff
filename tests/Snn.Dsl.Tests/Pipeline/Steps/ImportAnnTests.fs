module Snn.Dsl.Tests.Pipeline.Steps.ImportAnnTests

open System.IO
open System.Security.Cryptography
open System.Text.Json
open Expecto
open Snn.Dsl
open Snn.Dsl.Import
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Pipeline.TestPipelines
open Snn.Dsl.Tests.Pipeline.ImportedPipelines

let private importedRecord (records: Record list) =
    records
    |> List.choose (function
        | CustomRecord("importAnn", v) -> Some(JsonSerializer.Deserialize<ImportedAnn>(v, jsonOptions))
        | _ -> None)
    |> List.exactlyOne

// Sequenced: the runs share torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "ImportAnn"
        [ test "JSON: {\"step\": \"importAnn\"} is the default step; every field round-trips; unknown keys are refused" {
              Expect.equal (decodeStep """{"step": "importAnn"}""") (Ok importAnn) "defaults"

              let custom = Step.create ImportAnn.definition { ReferenceImages = 0 }
              Expect.equal (decodeStep (custom.Json.ToJsonString())) (Ok custom) "round trip"
              Expect.stringContains (custom.Json.ToJsonString()) "\"reference_images\":0" "written out"

              Expect.equal
                  (decodeStep """{"step": "importAnn", "reference_image": 3}""")
                  (Error
                      [ "step.reference_image: unknown key (did you mean \"reference_images\"?); expected one of \"step\", \"reference_images\"" ])
                  "misspelt key"
          }

          test "validation: a declared network, a negative image count, too many images, a second ReLU ANN" {
              Expect.equal
                  (Plan.problems smallSpec None [ importAnn ] |> List.map _.Message)
                  [ "step 0 (importAnn): needs a network imported from ONNX: set the experiment's network to {\"onnx\": \"model.onnx\"}" ]
                  "declared network"

              let file = fashionFile 1 None

              Expect.equal
                  (problems file [ Step.create ImportAnn.definition { ReferenceImages = -1 }; trainRelu 1 ])
                  [ "step 0 (importAnn): reference_images = -1 is out of range: expected >= 0"
                    "step 1 (trainRelu): makes the ReLU ANN, which step 0 already made: a pipeline trains each network once" ]
                  "parameters and needs"

              Expect.equal
                  (problemsWithData file (facts 512 300) [ Step.create ImportAnn.definition { ReferenceImages = 301 } ])
                  [ "step 0 (importAnn): reference_images = 301, but the test split has 300 images" ]
                  "against the test split"

              Expect.isEmpty (problems file [ importAnn ]) "valid"
              File.Delete file
          }

          test
              "the imported ANN is the run's ReLU ANN: its accuracy, the ONNX Runtime check and the model's digest are recorded and reported" {
              let folder = tempFolder "import-ann"
              let file = fashionFile 2 None
              // No plots: without an SNN evaluation there is no T to plot against.
              let e =
                  experiment folder file [ importAnn; Step.create Report.definition { Plots = false } ]

              let outcome = run (Recorder()) e

              let relu = annRecords ReluAnn outcome.Records |> List.exactlyOne
              use net = Import.toNetwork (imported file).Model

              Expect.equal
                  relu.TestAccuracy
                  (testAccuracy net e)
                  "the imported network's test accuracy, computed independently"

              Expect.isEmpty relu.History "nothing trained"
              Expect.isEmpty relu.Thresholds "no bounded ReLU"

              let i = importedRecord outcome.Records
              let sha = SHA256.HashData(File.ReadAllBytes file) |> System.Convert.ToHexStringLower
              Expect.equal i.Sha256 sha "the file's SHA-256"
              Expect.equal i.ComparedImages 512 "the first 512 test images compared with ONNX Runtime"
              Expect.isLessThanOrEqual i.MaxAbsLogitDiff Tolerance.onnx "same logits as ONNX Runtime"
              Expect.equal i.OnnxFile file "file"

              Expect.equal outcome.Results.Imported [| i |] "results.json says where the ANN came from"
              Expect.equal outcome.Results.Ann.TestAccuracy relu.TestAccuracy "results.json's ANN"
              let report = File.ReadAllText(Path.Combine(folder, "report.md"))

              Expect.stringContains
                  report
                  $"- Imported ANN (`{file}`, SHA-256 `{sha.Substring(0, 16)}`"
                  "the report names the model"

              Expect.stringContains report "| T | imported ANN | QCFS SNN |" "the summary table's ANN column"
              Directory.Delete(folder, true)
              File.Delete file
          }

          test
              "a bounded ReLU's maximum is recorded as the imported ANN's threshold; reference_images = 0 skips the check" {
              let folder = tempFolder "import-bounded"
              let file = fashionFile 3 (Some 0.8)

              let outcome =
                  run (Recorder()) (experiment folder file [ Step.create ImportAnn.definition { ReferenceImages = 0 } ])

              let relu = annRecords ReluAnn outcome.Records |> List.exactlyOne

              Expect.equal
                  (relu.Thresholds |> Array.map (fun t -> t.Layer, t.Threshold))
                  [| "act1", float 0.8f |]
                  "act1 is Clip(0, 0.8); act2 is a plain ReLU"

              let i = importedRecord outcome.Records
              Expect.equal i.ComparedImages 0 "not compared"
              Expect.isTrue (System.Double.IsNaN i.MaxAbsLogitDiff) "no difference measured"
              Directory.Delete(folder, true)
              File.Delete file
          } ]
