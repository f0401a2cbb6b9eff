/// The records of a small run with per-image results chosen by hand (100 SNN test images), so
/// that every interval and paired test of its report has a known value. Shared by the tests of
/// Accuracies, Statistics, Markdown and Summary.
module Snn.Dsl.Tests.Reporting.StatisticsFixture

open System.Text.Json.Nodes
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

/// SNN test images of the fixture.
let images = 100

/// Per-image results: the images in `ranges` (inclusive) right, the others wrong.
let hits (ranges: (int * int) list) =
    Array.init images (fun i -> ranges |> List.exists (fun (a, b) -> a <= i && i <= b))

let private count (h: bool[]) =
    h |> Array.sumBy (fun x -> if x then 1 else 0)

/// An evaluation row whose accuracy is its per-image results' (None: recorded before they were kept,
/// with this accuracy).
let row t source madeFor lineage probe (results: Choice<bool[], float>) =
    { T = t
      Source = source
      MadeFor = madeFor
      Lineage = lineage
      Images = images
      Accuracy =
        match results with
        | Choice1Of2 h -> 100.0 * float (count h) / float images
        | Choice2Of2 a -> a
      Layers = [||]
      Potentials = [||]
      SopsPerImage = 1000.0
      FirstLayerMacsPerImage = 10.0
      EnergyRatio = 5.0
      IdentityMaxAbs = 1e-7
      Seconds = 1.0
      Probe = probe
      PerImageCorrect =
        match results with
        | Choice1Of2 h -> PerImage.encode h
        | Choice2Of2 _ -> null
      Tally = None }

/// ANN test images of the fixture (facts.Test): the SNN test images are the first `images` of them.
let annImages = 200

/// An ANN record; with `ranges`, its per-image test results (those images right, inclusive), whose
/// count must give `test`.
let annWith a test heldOut (ranges: (int * int) list option) =
    AnnTrained
        { Ann = a
          TestAccuracy = test
          HeldOutAccuracy = heldOut
          Seconds = 1.0
          Thresholds = [||]
          History = [||]
          TestImages = annImages
          TestPerImageCorrect =
            match ranges with
            | Some r ->
                Array.init annImages (fun i -> r |> List.exists (fun (a, b) -> a <= i && i <= b))
                |> PerImage.encode
            | None -> null }

let private ann a test heldOut = annWith a test heldOut None

let private a = PhaseTwoPass [ PotentialCalibration ]
let private ab = PhaseTwoPass [ PotentialCalibration; WeightCalibration ]

let private abc =
    PhaseTwoPass [ PotentialCalibration; WeightCalibration; PotentialCalibration ]

let private bits r = Choice1Of2(hits r)

/// T = 1: direct 40, Phase I 80, + potential 83, + weights 84, final 87 (images 0-79 and 85-91),
/// QCFS 60 (images 20-79). T = 2: direct 50, Phase I 81 without per-image results, final 88, QCFS 70.
/// QC ANNs on the 200 ANN test images: L = 1 90 % (images 0-89 and 100-189; 90 of the first 100),
/// L = 2 91 % (images 0-89 and 100-191; 90 of the first 100).
let records =
    [ ann ReluAnn 93.0 92.0
      ann ClipAnn 92.0 91.0
      SnnEvaluated(row 1 ClipAnn None [] false (bits [ 0, 39 ]))
      SnnEvaluated(row 2 ClipAnn None [] false (bits [ 0, 49 ]))
      annWith (QcAnn 1) 90.0 89.0 (Some [ (0, 89); (100, 189) ])
      annWith (QcAnn 2) 91.0 90.0 (Some [ (0, 89); (100, 191) ])
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [] false (bits [ 0, 79 ]))
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [] false (Choice2Of2 81.0))
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ a ] true (bits [ 0, 82 ]))
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ ab ] true (bits [ 0, 83 ]))
      SnnEvaluated(row 1 (QcAnn 1) (Some 1) [ abc ] false (bits [ (0, 79); (85, 91) ]))
      SnnEvaluated(row 2 (QcAnn 2) (Some 2) [ abc ] false (bits [ 0, 87 ]))
      QcfsEvaluated
          { Levels = 4
            Ann =
              { Ann = QcfsAnn 4
                TestAccuracy = 89.0
                HeldOutAccuracy = 88.0
                Seconds = 1.0
                Thresholds = [||]
                History = [||]
                TestImages = 0
                TestPerImageCorrect = null }
            Points =
              [| row 1 (QcfsAnn 4) None [] false (bits [ 20, 79 ])
                 row 2 (QcfsAnn 4) None [] false (bits [ 0, 69 ]) |] } ]

let info =
    { Name = "statistics"
      Profile = "test"
      Seed = 0
      Spec = Presets.fmnistVgg
      Experiment = JsonObject()
      Source = DeclaredNetwork }

/// 200 test images for the ANNs, 100 held out, SNNs scored on the first 100 test images.
let facts =
    { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
      Folder = "/data"
      Classes = 10
      Input = Image(1, 28, 28)
      TrainingFiles = 1100
      Train = 1000
      HeldOut = 100
      HeldOutIsDefault = false
      Test = 200
      SnnTest = images }

/// The results of the fixture's records.
let results () =
    Build.build info facts "digest" records 10.0
