module Snn.Dsl.Tests.Reporting.BuildTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open System.Reflection
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

let private row t source madeFor lineage probe accuracy =
    { T = t
      Source = source
      MadeFor = madeFor
      Lineage = lineage
      Images = 100
      Accuracy = accuracy
      Layers =
        [| { Name = "conv1"
             Stage = "whatever"
             ResidualMeanAbs = 0.1
             QuantizationMeanAbs = 0.2
             ClippingMeanAbs = 0.3
             ResidualMean = 0.0
             QuantizationMean = 0.0
             ClippingMean = 0.0
             TotalMeanAbs = 0.5
             NegativeShare = 0.0
             OverflowShare = 0.0
             Threshold = 1.0 } |]
      Potentials = [||]
      SopsPerImage = 1000.0 * accuracy
      FirstLayerMacsPerImage = 10.0
      EnergyRatio = accuracy / 10.0
      IdentityMaxAbs = accuracy / 1e6
      Seconds = 1.0
      Probe = probe
      PerImageCorrect = null
      Tally = None }

let private ann a test seconds =
    AnnTrained
        { Ann = a
          TestAccuracy = test
          HeldOutAccuracy = test - 1.0
          Seconds = seconds
          Thresholds = [| { Layer = "act1"; Threshold = 1.5 } |]
          History = [||]
          TestImages = 0
          TestPerImageCorrect = null }

let private a = PhaseTwoPass [ PotentialCalibration ]
let private ab = PhaseTwoPass [ PotentialCalibration; WeightCalibration ]

let private abc =
    PhaseTwoPass [ PotentialCalibration; WeightCalibration; PotentialCalibration ]

/// The paper's pipeline's records for T = 1 and 2, plus T = 4 served by the T = 2 network.
let private records =
    [ ann ReluAnn 93.0 10.0
      ann ClipAnn 92.0 20.0
      SnnEvaluated(row 1 ClipAnn None [] false 11.0)
      SnnEvaluated(row 2 ClipAnn None [] false 12.0)
      SnnEvaluated(row 4 ClipAnn None [] false 14.0)
      ann (QcAnn 1) 90.0 5.0
      ann (QcAnn 2) 91.0 5.0
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [] false 80.0)
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [] false 81.0)
      SnnEvaluated(row 4 (QcAnn 2) (Some 2) [] false 82.0)
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ a ] true 83.0)
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ ab ] true 84.0)
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [ a ] true 85.0)
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [ ab ] true 86.0)
      PhaseTwoDone
          { T = 1
            Operations = [ PotentialCalibration; WeightCalibration; PotentialCalibration ]
            CalibrationImages = 1024
            EarlyStoppingImages = 256
            Seconds = 7.0
            Log = [||] }
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ abc ] false 87.0)
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [ abc ] false 88.0)
      QcfsEvaluated
          { Levels = 4
            Ann =
              { Ann = QcfsAnn 4
                TestAccuracy = 89.0
                HeldOutAccuracy = 88.0
                Seconds = 30.0
                Thresholds = [| { Layer = "act1"; Threshold = 2.5 } |]
                History = [||]
                TestImages = 0
                TestPerImageCorrect = null }
            Points = [| row 1 (QcfsAnn 4) None [] false 60.0; row 2 (QcfsAnn 4) None [] false 70.0 |] } ]

let private info =
    { Name = "t"
      Profile = "test"
      Seed = 3
      Spec = Presets.fmnistVgg
      Experiment = JsonObject()
      Source = DeclaredNetwork }

let private facts =
    { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
      Folder = "/data"
      Classes = 10
      Input = Image(1, 28, 28)
      TrainingFiles = 60000
      Train = 55000
      HeldOut = 5000
      HeldOutIsDefault = true
      Test = 10000
      SnnTest = 1000 }

let private built = lazy (Build.build info facts "digest" records 123.0)

[<Tests>]
let tests =
    testList
        "Build"
        [ test "the results name the commit the toolkit was built from, not the repository's HEAD at report time" {
              let commit = Build.buildCommit ()

              Expect.isMatch
                  commit
                  "^[0-9a-f]{12}(-dirty)?$"
                  "12 hex digits from the assembly's informational version, marked when the tree had changes"

              Expect.equal built.Value.Commit commit "recorded in results.json"

              let version =
                  typeof<Snn.Dsl.Reporting.Results.RunResults>.Assembly
                      .GetCustomAttribute<AssemblyInformationalVersionAttribute>()
                      .InformationalVersion

              Expect.stringContains version $"+{commit.Replace('-', '.').Substring(0, 12)}" "the SDK's source revision"
          }

          test "a build from a tree with uncommitted changes is named so: <sha>.dirty reads as <12 digits>-dirty" {
              let sha = "0123456789abcdef0123456789abcdef01234567"
              Expect.equal (Build.commitOf $"0.1.0+{sha}") "0123456789ab" "clean"
              Expect.equal (Build.commitOf $"0.1.0+{sha}.dirty") "0123456789ab-dirty" "uncommitted changes"
              Expect.equal (Build.commitOf "0.1.0") "unknown" "no revision (a build without git)"
              Expect.equal (Build.commitOf "0.1.0+branch-name") "unknown" "not a commit"
          }

          test "BENCHMARKS.md's stage columns come from the rows in pipeline order" {
              let r = built.Value
              let byT = r.DualPhase |> Array.map (fun d -> d.T, d) |> Map.ofArray
              Expect.equal (Map.keys byT |> List.ofSeq) [ 1; 2; 4 ] "every evaluated T"
              let s1 = byT[1].Snn

              Expect.equal
                  (s1.Direct, s1.Phase1, s1.Potential, s1.Weights, s1.Final)
                  (11.0, 80.0, 83.0, 84.0, 87.0)
                  "T = 1"

              Expect.equal byT[1].FineTunedL 1 "L = 1"
              Expect.equal byT[1].QcAnnTestAccuracy 90.0 "its QC ANN"
              let s4 = byT[4].Snn
              Expect.equal (s4.Direct, s4.Phase1) (14.0, 82.0) "T = 4 served by the T = 2 network"
              Expect.isTrue (Double.IsNaN s4.Final && Double.IsNaN s4.Weights) "no Phase II columns at T = 4"
              Expect.equal byT[4].FineTunedL 2 "made from the L = 2 network"
              Expect.equal (byT[1].Layers |> Array.map _.Stage) [| "phase1"; "final" |] "anatomy before and after"
              Expect.equal byT[1].EnergyRatio 8.7 "energy of the final network"
              Expect.equal byT[4].EnergyRatio 8.2 "energy of the Phase-I network where there is no final"
              Expect.equal byT[1].CalibrationSeconds 7.0 "Phase II time"

              Expect.equal
                  (byT[1].Stages |> Array.map (fun s -> s.Label, s.Accuracy, s.Probe))
                  [| "phase1", 80.0, false
                     "Phase II (potential)", 83.0, true
                     "Phase II (potential, weights)", 84.0, true
                     "Phase II (potential, weights, potential)", 87.0, false |]
                  "every row, in order"

              Expect.equal byT[4].Stages[0].Label "phase1 (made for T = 2)" "a row served by another T says so"
          }

          test "ANNs, QCFS, identity and wall times are read from the records" {
              let r = built.Value
              Expect.equal (r.Ann.TestAccuracy, r.ClipAnn.TestAccuracy) (93.0, 92.0) "ANNs"
              Expect.equal (r.Qcfs.L, r.Qcfs.AnnTestAccuracy) (4, 89.0) "QCFS ANN"
              Expect.equal (r.Qcfs.Thresholds |> Array.map _.Threshold) [| 2.5 |] "QCFS thresholds"
              Expect.equal (r.Qcfs.Snn |> Array.map _.TestAccuracy) [| 60.0; 70.0 |] "QCFS SNN"
              Expect.equal (r.Qcfs.Snn[0].Layers |> Array.map _.Stage) [| "qcfs-T1" |] "QCFS anatomy"
              Expect.equal r.IdentityMaxAbs (88.0 / 1e6) "largest identity deviation"
              let w = r.WallSeconds
              Expect.equal (w.Ann, w.Phase1, w.Phase2, w.Qcfs, w.Total) (10.0, 30.0, 7.0, 32.0, 123.0) "wall times"
              Expect.equal (r.Splits.Calibration, r.Splits.EarlyStopping) (1024, 256) "Phase II images"
              Expect.equal (r.Data.Dataset, r.Data.Folder, r.Data.Identity) ("fashion-mnist", "/data", "digest") "data"
          }

          test "results.json round-trips and report.md shows the summary table" {
              let folder = Path.Combine(Path.GetTempPath(), $"snn-build-{Guid.NewGuid():N}")
              Directory.CreateDirectory folder |> ignore
              let path = Path.Combine(folder, "results.json")
              Results.save path built.Value
              let back = Results.load path

              Expect.equal (Results.jsonText back) (Results.jsonText built.Value) "same JSON after a round trip"

              let md = Markdown.render built.Value []

              Expect.stringContains
                  md
                  "| 1 | 93.00 | 60.00 [56.89, 63.05] | 11.00 [9.13, 13.11] | 80.00 [77.38, 82.44] | 83.00 [80.53, 85.28] | 84.00 [81.58, 86.22] | **87.00** [84.76, 89.02] | 90.00 [89.40, 90.58] (1) | 8.70 |"
                  "T = 1 row"

              Directory.Delete(folder, true)
          }
          test
              "an imported ANN's record is results.json's imported entry; the report names the model beside every SNN row" {
              let imported: Results.ImportedAnn =
                  { OnnxFile = "models/m.onnx"
                    Sha256 = String.replicate 8 "0123456789abcdef"
                    Producer = "pytorch 2.1"
                    OpsetVersion = 17L
                    Nodes = 40
                    Parameters = 437226L
                    Warnings = [| "node 'x' (BatchNormalization): exported in training mode" |]
                    ComparedImages = 512
                    MaxAbsLogitDiff = 2e-6
                    ImportSeconds = 0.5 }

              let record =
                  CustomRecord(
                      Build.ImportedRecord,
                      Text.Json.JsonSerializer.SerializeToNode(imported, Results.jsonOptions)
                  )

              let r = Build.build info facts "digest" (record :: records) 123.0
              Expect.equal r.Imported [| imported |] "the imported ANN"
              Expect.isEmpty built.Value.Imported "a trained ANN has none"
              let md = Markdown.render r []

              Expect.stringContains
                  md
                  "- Imported ANN (`models/m.onnx`, SHA-256 `0123456789abcdef`..., pytorch 2.1, 437,226 parameters): **93.00** [92.48, 93.49] (held-out 92.00 [91.21, 92.74])"
                  "the model and its accuracy"

              Expect.stringContains
                  md
                  "  - import warning: node 'x' (BatchNormalization): exported in training mode"
                  "warning"

              Expect.stringContains md "| T | imported ANN | QCFS SNN |" "the column"

              Expect.stringContains
                  md
                  "| 2 | 93.00 | 70.00 [67.05, 72.83] | 12.00 [10.05, 14.18] |"
                  "beside each T's figures"
          }

          test "a results.json written before imports existed (no \"imported\") still loads and renders" {
              let node =
                  Text.Json.JsonSerializer.SerializeToNode(built.Value, Results.jsonOptions).AsObject()

              node.Remove "imported" |> ignore

              let path =
                  Path.Combine(Path.GetTempPath(), $"snn-old-results-{Guid.NewGuid():N}.json")

              File.WriteAllText(path, node.ToJsonString())
              let old = Results.load path
              Expect.stringContains (Markdown.render old []) "| T | ANN | QCFS SNN |" "rendered"
              Expect.stringContains (Markdown.render old []) "- ReLU ANN: **93.00**" "a trained ANN"
              File.Delete path
          } ]
