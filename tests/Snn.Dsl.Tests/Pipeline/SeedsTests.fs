module Snn.Dsl.Tests.Pipeline.SeedsTests

open System
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private series folder =
    experiment
        folder
        smallSpec
        [ trainClip 1
          evaluateDirect [ 1; 2 ]
          Step.create Report.definition { Plots = false } ]
    |> Experiment.withSeeds [ 0; 1 ]

let private options sink : Runner.RunOptions =
    { OutputFolder = None
      DataPath = None
      Progress = sink }

// Sequenced: runs draw initial weights from torch's process-wide generator.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Seeds"
        [ test "each seed runs in its own folder, then the summary; a second call resumes every seed and redoes nothing" {
              let folder = tempFolder "seeds"
              let first = Seeds.run (options (Recorder())) (series folder)
              Expect.equal (first.Runs |> List.map fst) [ 0; 1 ] "both seeds"

              for k in [ 0; 1 ] do
                  let seed = Path.Combine(folder, $"seed-{k}")
                  Expect.isTrue (File.Exists(Path.Combine(seed, "results.json"))) $"seed {k}: results.json"
                  Expect.isTrue (File.Exists(Path.Combine(seed, "report.md"))) $"seed {k}: report.md"
                  let recorded = Experiment.load (Path.Combine(seed, "experiment.json"))

                  Expect.equal
                      (recorded |> Result.map (fun e -> e.Seed, e.Seeds))
                      (Ok(k, []))
                      $"seed {k}: a one-seed run"

              Expect.isTrue (File.Exists(Path.Combine(folder, "summary.md"))) "summary.md"
              let summary = Reporting.Summary.load (Path.Combine(folder, "summary.json"))

              let clip =
                  summary.Accuracies |> Array.find (fun a -> a.Key = "clip_ann.test_accuracy")

              let results k =
                  (first.Runs |> List.find (fun (s, _) -> s = k) |> snd).Results

              Expect.equal
                  clip.Values
                  [| (results 0).ClipAnn.TestAccuracy; (results 1).ClipAnn.TestAccuracy |]
                  "each seed's accuracy"

              Expect.notEqual clip.Values[0] clip.Values[1] "the seeds train different networks"
              Expect.floatClose Accuracy.veryHigh clip.Mean (Array.average clip.Values) "mean"

              // Every evaluation kept which images it classified right, consistent with its accuracy.
              for _, o in first.Runs do
                  for r in o.Records do
                      match r with
                      | SnnEvaluated e ->
                          match PerImage.decode e.Images e.PerImageCorrect with
                          | Ok hits ->
                              let right = hits |> Array.filter id |> Array.length

                              Expect.floatClose
                                  Accuracy.veryHigh
                                  (100.0 * float right / float e.Images)
                                  e.Accuracy
                                  "bits vs accuracy"
                          | Error m -> failtest m
                      | _ -> ()

              let again = Recorder()
              let second = Seeds.run (options again) (series folder)
              Expect.isEmpty (again.Lines |> List.filter (fun l -> l.StartsWith "start ")) "nothing is redone"

              Expect.equal
                  (again.Lines
                   |> List.filter (fun l -> l.Contains "finished earlier, skipped")
                   |> List.length)
                  6
                  "three steps of two seeds skipped"

              Expect.equal
                  (second.Summary.Accuracies |> Array.map _.Values)
                  (summary.Accuracies |> Array.map _.Values)
                  "same summary"

              Directory.Delete(folder, true)
          }

          test "the summary draws the QCFS thresholds against accuracy when the report draws plots, and not otherwise" {
              let folder = tempFolder "seeds-qcfs"

              let qcfsSeries plots =
                  experiment
                      folder
                      smallSpec
                      [ Step.create
                            Qcfs.definition
                            { Qcfs.defaults with
                                Epochs = 1
                                TimeSteps = [ 1; 2 ] }
                        Step.create Report.definition { Plots = plots } ]
                  |> Experiment.withSeeds [ 0; 1 ]

              let plot = Path.Combine(folder, Reporting.SummaryPlot.FileName)
              let without = Seeds.run (options (Recorder())) (qcfsSeries false)
              Expect.equal without.Summary.QcfsThresholds.Length 2 "the small network's two QCFS layers"
              Expect.isFalse (File.Exists plot) "\"plots\": false is honoured"

              let md () =
                  File.ReadAllText(Path.Combine(folder, "summary.md"))

              Expect.stringContains (md ()) "## QCFS learned thresholds" "the thresholds without the plot"
              Expect.isFalse ((md ()).Contains Reporting.SummaryPlot.FileName) "no plot named"
              let again = Recorder()
              Seeds.run (options again) (qcfsSeries true) |> ignore

              Expect.isEmpty
                  (again.Lines
                   |> List.filter (fun l -> l.StartsWith "start " && not (l.Contains "report")))
                  "only the reports run again"

              Expect.isTrue (File.Exists plot) "the plot, with plots"

              Expect.stringContains
                  (md ())
                  $"![{Reporting.SummaryPlot.FileName}]({Reporting.SummaryPlot.FileName})"
                  "shown in summary.md"

              Directory.Delete(folder, true)
          }

          test "a single run refuses an experiment with seeds, rather than running one of them" {
              let folder = Path.Combine(Path.GetTempPath(), $"snn-never-{Guid.NewGuid():N}")

              Expect.throwsT<Runner.ExperimentInvalidException>
                  (fun () -> Runner.run (options (Recorder())) (series folder) |> ignore)
                  "refused"

              Expect.isFalse (Directory.Exists folder) "nothing was written"
          }

          test "a series with a bad seed is refused before any seed runs" {
              let folder = Path.Combine(Path.GetTempPath(), $"snn-never-{Guid.NewGuid():N}")

              try
                  Seeds.run (options (Recorder())) { series folder with Seeds = [ 0; 0 ] }
                  |> ignore

                  failtest "expected a refusal"
              with :? Runner.ExperimentInvalidException as x ->
                  Expect.equal x.Problems [ "seeds = [0, 0]: seed 0 is repeated (each seed is one run)" ] "the problem"

              Expect.isFalse (Directory.Exists folder) "nothing was written"
          } ]
