module Snn.Dsl.Tests.Pipeline.CompareTests

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// Two seeds of a small dual-phase pipeline (T = 1, 2) with a QCFS baseline read at T = 1, 2.
let private series folder =
    experiment
        folder
        smallSpec
        [ trainClip 1
          fineTuneQC [ 1; 2 ] 1
          convert
          evaluate [ 1; 2 ]
          Step.create
              Qcfs.definition
              { Qcfs.defaults with
                  Epochs = 1
                  TimeSteps = [ 1; 2 ] } ]
    |> Experiment.withSeeds [ 0; 1 ]

let private options: Runner.RunOptions =
    { OutputFolder = None
      DataPath = None
      Progress = SilentProgress() }

/// The finished series (made once; tests only read it or copy it).
let private made =
    lazy
        (let folder = tempFolder "compare"
         Seeds.run options (series folder) |> ignore
         folder)

let private seed k = Path.Combine(made.Value, $"seed-%d{k}")

/// A copy of the series whose seed folders are renamed by `rename` (None drops one).
let private renamedSeries name (rename: int -> int option) =
    let folder = tempFolder name

    for k in [ 0; 1 ] do
        rename k
        |> Option.iter (fun j -> Snn.Tests.TempFolders.copyTree (seed k) (Path.Combine(folder, $"seed-%d{j}")))

    folder

/// Which test images the last dual-phase evaluation at T classified right.
let private hits (folder: string) (t: int) =
    let row =
        Reporting.Statistics.dualPhaseRow (Run folder).Records t
        |> Option.defaultWith (fun () -> failtest $"{folder}: no dual-phase row at T = {t}")

    match PerImage.decode row.Images row.PerImageCorrect with
    | Ok h -> h
    | Error e -> failtest e

let private refused (expected: string list) (f: unit -> Compare.Outcome) =
    try
        f () |> ignore
        failtest "compared"
    with :? Compare.RunsNotComparableException as e ->
        for fragment in expected do
            Expect.stringContains e.Message fragment "the message"

/// data.json of `run` rewritten as a run on other data would have written it.
let private claimOtherData (run: string) =
    let body = JsonObject()
    body["dataset"] <- JsonValue.Create "fashion-mnist"
    body["folder"] <- JsonValue.Create "/elsewhere"
    body["digest"] <- JsonValue.Create(String('f', 64))
    let text = body.ToJsonString(JsonSerializerOptions(WriteIndented = true))
    let record = JsonObject()
    record["sha256"] <- JsonValue.Create(Hash.text text)
    record["body"] <- body
    File.WriteAllText(Path.Combine(run, "data.json"), record.ToJsonString())

// Sequenced: runs draw initial weights from torch's process-wide generator.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "Compare"
              [ test "a run against itself: every T and QCFS point compared, nothing discordant, p = 1" {
                    let o = Compare.runs (seed 0) (seed 0)

                    Expect.equal
                        [ for c in o.Comparisons -> c.Network, c.Test.T ]
                        [ "dual-phase SNN", 1
                          "dual-phase SNN", 2
                          "QCFS SNN (L = 4)", 1
                          "QCFS SNN (L = 4)", 2 ]
                        "what is compared"

                    for c in o.Comparisons do
                        Expect.equal (c.Test.BaselineOnly, c.Test.CandidateOnly) (0, 0) "nothing discordant"
                        Expect.equal c.Test.PValue 1.0 "p"
                        Expect.equal c.Test.CandidateAccuracy c.Test.BaselineAccuracy "same accuracy"

                    Expect.isEmpty o.Notes "nothing left out"
                    Expect.isEmpty o.OverSeeds "two runs: no figures over seeds"
                    Expect.equal o.Baseline (Path.GetFullPath(seed 0)) "same names: shown as full paths"
                }

                test "seed 0 against seed 1: the discordant counts are those of the per-image results" {
                    let o = Compare.runs (seed 0) (seed 1)
                    Expect.equal (o.Baseline, o.Candidate) ("seed-0", "seed-1") "named by folder"

                    for t in [ 1; 2 ] do
                        let a, b = hits (seed 0) t, hits (seed 1) t

                        let count f =
                            Array.fold2 (fun n x y -> if f x y then n + 1 else n) 0 a b

                        let c =
                            o.Comparisons
                            |> Array.find (fun c -> c.Network = "dual-phase SNN" && c.Test.T = t)

                        Expect.equal c.Test.BaselineOnly (count (fun x y -> x && not y)) $"T = {t}: only A"
                        Expect.equal c.Test.CandidateOnly (count (fun x y -> y && not x)) $"T = {t}: only B"

                        Expect.floatClose
                            Accuracy.veryHigh
                            (c.Test.CandidateAccuracy - c.Test.BaselineAccuracy)
                            (100.0 * float (c.Test.CandidateOnly - c.Test.BaselineOnly) / float a.Length)
                            "the difference is (c - b) / images"

                    Expect.isTrue
                        (o.Comparisons
                         |> Array.exists (fun c -> c.Test.BaselineOnly + c.Test.CandidateOnly > 0))
                        "the seeds train different networks"
                }

                test "two series are paired by seed; the figures over seeds are the per-seed figures' mean and sd" {
                    // B holds A's seeds swapped, so seed k pairs A's seed k with A's other seed.
                    let swapped = renamedSeries "swapped" (fun k -> Some(1 - k))
                    let o = Compare.runs made.Value swapped
                    Expect.equal (o.Comparisons |> Array.map _.Seed |> Array.distinct) [| Some 0; Some 1 |] "seeds"

                    for d in o.OverSeeds do
                        let per =
                            o.Comparisons
                            |> Array.filter (fun c -> c.Network = d.Network && c.Test.T = d.T)
                            |> Array.map (fun c -> c.Test.CandidateAccuracy - c.Test.BaselineAccuracy)

                        Expect.equal d.Seeds [| 0; 1 |] "both seeds"
                        Expect.floatClose Accuracy.veryHigh per[1] -per[0] "swapped pairs: opposite differences"
                        Expect.floatClose Accuracy.veryHigh d.MeanDifference 0.0 "their mean"

                        Expect.floatClose
                            Accuracy.veryHigh
                            d.DifferenceStandardDeviation
                            (abs per[0] * sqrt 2.0)
                            "sample sd of d and -d"

                        Expect.floatClose Accuracy.veryHigh d.MeanBaseline d.MeanCandidate "same runs on both sides"
                        Expect.equal d.OverSeedsTest.DegreesOfFreedom 1 "two seeds"
                        Expect.floatClose Accuracy.high d.OverSeedsTest.PValue 1.0 "a mean difference of 0: p = 1"

                    let one = renamedSeries "one-seed" (fun k -> if k = 1 then Some 1 else None)
                    let partial = Compare.runs made.Value one
                    Expect.equal (partial.Comparisons |> Array.map _.Seed |> Array.distinct) [| Some 1 |] "seed 1 only"
                    Expect.contains partial.Notes $"seed 0: only in {Path.GetFileName made.Value}" "the seed left out"
                }

                test "a T or a QCFS baseline only one run has is a note, not an error" {
                    let folder = tempFolder "compare-t1"

                    run
                        (Recorder())
                        (experiment folder smallSpec [ trainClip 1; fineTuneQC [ 1 ] 1; convert; evaluate [ 1 ] ])
                    |> ignore

                    let o = Compare.runs (seed 0) folder
                    Expect.equal [ for c in o.Comparisons -> c.Network, c.Test.T ] [ "dual-phase SNN", 1 ] "T = 1"

                    Expect.equal
                        (List.ofArray o.Notes)
                        [ "dual-phase SNN: T = 2 only in seed-0"; "QCFS SNN: only in seed-0" ]
                        "notes"
                }

                test "folders that cannot be compared are refused, naming them and why" {
                    let empty = tempFolder "compare-empty"
                    refused [ "/no/such/run"; "no such folder" ] (fun () -> Compare.runs "/no/such/run" (seed 0))
                    refused [ empty; "holds no run" ] (fun () -> Compare.runs (seed 0) empty)
                    File.WriteAllText(Path.Combine(empty, "results.json"), "{}")

                    refused [ empty; "no per-image results"; "merge the shards again" ] (fun () ->
                        Compare.runs (seed 0) empty)

                    refused [ "one run"; "run over seeds" ] (fun () -> Compare.runs (seed 0) made.Value)
                    refused [ "run over seeds"; "one run" ] (fun () -> Compare.runs made.Value (seed 1))
                    let other = renamedSeries "compare-seed5" (fun k -> if k = 0 then Some 5 else None)
                    refused [ "no seed in common"; "[0; 1]"; "[5]" ] (fun () -> Compare.runs made.Value other)
                    let moved = tempFolder "compare-other-data"
                    Snn.Tests.TempFolders.copyTree (seed 0) moved
                    claimOtherData moved
                    refused [ "other data"; moved; "ffffffffffff" ] (fun () -> Compare.runs (seed 0) moved)
                } ] ]
