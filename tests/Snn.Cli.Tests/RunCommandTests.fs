/// `snn run`'s own options (RunCommand.fs): --seeds and --shard, parsed and checked before any
/// data is read.
module Snn.Cli.Tests.RunCommandTests

open System
open Expecto
open Snn.Cli
open Snn.Cli.Tests.Common

[<Tests>]
let tests =
    testSequenced
    <| testList
        "RunCommand"
        [ test "--seeds reads seeds separated by commas" {
              Expect.equal (RunCommand.parseSeeds "0,1,2") [ 0; 1; 2 ] "three seeds"
              Expect.equal (RunCommand.parseSeeds " 7 , 3") [ 7; 3 ] "spaces and order kept"
              Expect.equal (RunCommand.parseSeeds "5") [ 5 ] "one seed"
          }

          test "the summary over seeds prints the QCFS first threshold and its defined rank correlations" {
              let summary: Snn.Dsl.Reporting.Summary.SeedSummary =
                  { Seeds = [| 0; 1; 2 |]
                    Folders = [| "a"; "b"; "c" |]
                    Dataset = "fashion-mnist"
                    Profile = "bench"
                    Accuracies = [||]
                    QcfsThresholds =
                      [| { Layer = "act1"
                           Mean = 1.0
                           StandardDeviation = 0.1
                           Min = 0.9
                           Max = 1.1
                           Values = [| 0.9; 1.1; 1.0 |] } |]
                    QcfsThresholdCorrelations =
                      [| { T = 1; Pairs = 3; Spearman = -0.5 }
                         { T = 2; Pairs = 3; Spearman = nan }
                         { T = 4; Pairs = 3; Spearman = 1.0 } |] }

              Expect.equal
                  (RunCommand.qcfsThresholdLine summary)
                  (Some
                      "QCFS learned threshold of act1: 1.00 ± 0.10 (0.90-1.10); Spearman rank correlation with the QCFS SNN's accuracy over 3 seeds: T = 1 -0.50, T = 4 1.00")
                  "T = 2's undefined correlation left out"

              Expect.equal
                  (RunCommand.qcfsThresholdLine
                      { summary with
                          QcfsThresholdCorrelations = [||] })
                  (Some "QCFS learned threshold of act1: 1.00 ± 0.10 (0.90-1.10)")
                  "no correlation"

              Expect.isNone (RunCommand.qcfsThresholdLine { summary with QcfsThresholds = [||] }) "no line without QCFS"
          }

          test "--seeds refuses anything but seeds >= 0, naming the option and the value" {
              for text in [ ""; "a"; "1,,2"; "-1"; "1;2"; "0, x" ] do
                  try
                      RunCommand.parseSeeds text |> ignore
                      failtestf "accepted %A" text
                  with :? ArgumentException as e ->
                      Expect.stringContains
                          e.Message
                          $"--seeds = '{text}': expected seeds >= 0 separated by commas"
                          text
          }

          testCase "snn run --seeds with a bad or repeated seed exits 2 before reading data"
          <| fun () ->
              let bad = runSnn [ "run"; "--profile"; "tiny"; "--seeds"; "0,x"; "--plain" ]
              Expect.equal bad.ExitCode ExitCode.Usage $"exit code\n{bad.Show}"
              Expect.stringContains bad.LastErrorLine "--seeds = '0,x'" "names the option"

              use tmp = new TempFolder()

              let repeated =
                  runSnn
                      [ "run"
                        "--profile"
                        "tiny"
                        "--seeds"
                        "1,1"
                        "--out"
                        tmp.File "out"
                        "--plain" ]

              Expect.equal repeated.ExitCode ExitCode.Usage $"exit code\n{repeated.Show}"
              Expect.stringContains repeated.Stderr "seeds = [1, 1]: seed 1 is repeated" $"the problem\n{repeated.Show}"
              Expect.isFalse (IO.Directory.Exists(tmp.File "out")) "nothing written"

          testCase
              "snn run --shard with seeds (--seeds or the experiment's) exits 2 before anything is read, naming both"
          <| fun () ->
              use tmp = new TempFolder()
              let out = tmp.File "out"

              let given =
                  runSnn
                      [ "run"
                        "--profile"
                        "tiny"
                        "--seeds"
                        "0,1"
                        "--shard"
                        "1/2"
                        "--out"
                        out
                        "--plain" ]

              Expect.equal given.ExitCode ExitCode.Usage $"exit code\n{given.Show}"
              Expect.stringContains given.LastErrorLine "--shard 1/2" "names the shard"
              Expect.stringContains given.LastErrorLine "--seeds 0,1" "names the seeds"

              let config = tmp.File "series.json"
              Snn.Dsl.Experiment.save config (Snn.Dsl.Experiment.withSeeds [ 2; 3 ] Snn.Dsl.Profiles.tiny)

              let inJson =
                  runSnn [ "run"; "--config"; config; "--shard"; "2/2"; "--out"; out; "--plain" ]

              Expect.equal inJson.ExitCode ExitCode.Usage $"exit code\n{inJson.Show}"
              Expect.stringContains inJson.LastErrorLine "--shard 2/2" "names the shard"
              Expect.stringContains inJson.LastErrorLine "the experiment's \"seeds\"" "names the setting"
              Expect.isFalse (IO.Directory.Exists out) "nothing written"

          testCase
              "the terminal summary gives an accuracy its interval and tests dual-phase against QCFS (statistics fixture)"
          <| fun () ->
              let r = Snn.Dsl.Tests.Reporting.StatisticsFixture.results ()
              let key = Snn.Dsl.Reporting.Accuracies.dualPhaseKey 1 "snn.final"
              let i = r.Statistics.Accuracies |> Array.find (fun a -> a.Key = key)
              Expect.equal (RunCommand.withInterval r key 87.0) $"87.00 ({i.Low:F2}-{i.High:F2})" "final at T = 1"
              Expect.equal (RunCommand.withInterval r "no such key" 87.0) "87.00" "no interval, bare figure"

              // T = 1: final right on 0-79 and 85-91, QCFS on 20-79: 27 images only the final
              // network gets, none only QCFS: p = 2 / 2^27. T = 2: 0-87 against 0-69: p = 2 / 2^18.
              let line = RunCommand.versusQcfsLine r.Statistics |> Option.defaultValue ""
              Expect.stringContains line "95 % intervals (Clopper-Pearson)" "names the interval"

              Expect.stringContains
                  line
                  ("T = 1 p = "
                   + (2.0 / 2.0 ** 27.0).ToString("G2", Globalization.CultureInfo.InvariantCulture))
                  "T = 1"

              Expect.stringContains
                  line
                  ("T = 2 p = "
                   + (2.0 / 2.0 ** 18.0).ToString("G2", Globalization.CultureInfo.InvariantCulture))
                  "T = 2"

              // Against the QC ANNs: T = 1 b = 5, c = 2 (p = 58 / 128); T = 2 b = 2, c = 0 (p = 1 / 2).
              Expect.stringContains
                  line
                  "; dual-phase vs the QC ANN it was converted from: T = 1 p = 0.45, T = 2 p = 0.5"
                  "against the QC ANNs"

          testCase "the terminal summary of a pipeline with only the QCFS baseline names only what ran"
          <| fun () ->
              use tmp = new TempFolder()
              let data = tmp.File "data"
              IO.Directory.CreateDirectory data |> ignore
              writeIdx data false 300 64

              let config = tmp.File "qcfs.json"

              IO.File.WriteAllText(
                  config,
                  """{ "name": "qcfs-only",
                       "data": { "dataset": "fashion-mnist", "train_images": 256, "test_images": 64, "held_out": 44 },
                       "network": { "preset": { "name": "fmnist-vgg" } },
                       "pipeline": [ { "step": "qcfs", "epochs": 1, "time_steps": [ 1, 2 ] }, { "step": "report" } ] }"""
              )

              let r =
                  runSnn
                      [ "run"
                        "--config"
                        config
                        "--data"
                        data
                        "--out"
                        tmp.File "run"
                        "--plain" ]

              Expect.equal r.ExitCode 0 $"exit code\n{r.Show}"
              Expect.stringContains r.Stdout "QCFS QC ANN (L=4)" "the QCFS ANN"
              Expect.stringContains r.Stdout "E_ANN/E_SNN" "a table"
              Expect.isFalse (r.Stdout.Contains "+ potential") "the QCFS table, not an empty dual-phase one"
              Expect.isFalse (r.Stdout.Contains "ReLU ANN") $"no ReLU ANN, none was trained\n{r.Show}"
              Expect.isFalse (r.Stdout.Contains "clip ANN") "no clip ANN"
              Expect.isFalse (r.Stdout.Contains "Phase II / Phase I") "no Phase II share without Phase I"

              Expect.isTrue
                  (Text.RegularExpressions.Regex.IsMatch(r.Stdout, @"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)"))
                  $"each SNN accuracy with its interval\n{r.Show}"

              Expect.stringContains r.Stdout "95 % intervals (Clopper-Pearson)" "names the interval"
              Expect.isFalse (r.Stdout.Contains "McNemar") "no dual-phase vs QCFS test without dual-phase rows" ]
