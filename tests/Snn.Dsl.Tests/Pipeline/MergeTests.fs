module Snn.Dsl.Tests.Pipeline.MergeTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// The tiny profile (every step of the dual-phase pipeline and QCFS; 512 SNN test images, i.e.
/// two evaluation batches) with the small two-conv network, in `folder`.
let private tiny folder =
    { Profiles.tiny with
        Network = CustomNetwork smallSpecBn
        OutputFolder = folder }

let private options: Runner.RunOptions =
    { OutputFolder = None
      DataPath = None
      Progress = SilentProgress() }

/// results.json without its wall times and its experiment (whose output folder differs); the
/// experiments are compared apart.
let private withoutTimes (r: RunResults) =
    let zero =
        { r.WallSeconds with
            Ann = 0.0
            Phase1 = 0.0
            Phase2 = 0.0
            Qcfs = 0.0
            Evaluation = 0.0
            Total = 0.0 }

    let r =
        { r with
            WallSeconds = zero
            Experiment = System.Text.Json.JsonDocument.Parse("null").RootElement
            DualPhase = r.DualPhase |> Array.map (fun d -> { d with CalibrationSeconds = 0.0 }) }

    System.Text.Json.JsonSerializer.Serialize(r, jsonOptions)

// Sequenced: runs draw initial weights from torch's process-wide generator.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "Merge"
              [ testCase
                    "two shards of the tiny profile merged equal the unsharded results.json exactly (wall times aside)"
                <| fun () ->
                    let whole = tempFolder "whole"
                    let shards = [ tempFolder "shard1"; tempFolder "shard2" ]
                    let merged = tempFolder "merged"
                    let wholeRun = Runner.execute options (tiny whole)

                    for i, folder in List.indexed shards do
                        Runner.executeShard options (Some { Index = i + 1; Count = 2 }) (tiny folder)
                        |> ignore

                        Expect.isTrue
                            (File.Exists(Path.Combine(folder, Partial.FileName)))
                            "a shard writes partial.json"

                        Expect.isFalse (File.Exists(Path.Combine(folder, "results.json"))) "and no results.json"

                    Merge.merge shards merged |> ignore

                    let fromMerge =
                        Snn.Dsl.Reporting.Results.load (Path.Combine(merged, "results.json"))

                    let unsharded = Snn.Dsl.Reporting.Results.load (Path.Combine(whole, "results.json"))

                    Expect.equal (withoutTimes fromMerge) (withoutTimes unsharded) "the same numbers"

                    // The paired tests need the per-image results of all the images, in order.
                    let stats = fromMerge.Statistics
                    Expect.isNonEmpty stats.Stages "McNemar tests of the stages"
                    Expect.isNonEmpty stats.VersusQcfs "McNemar tests against QCFS"
                    Expect.isEmpty stats.Notes "no comparison left out"

                    Expect.equal
                        (stats.Stages
                         |> Array.map (fun c -> c.Images, c.BaselineOnly, c.CandidateOnly, c.PValue))
                        (unsharded.Statistics.Stages
                         |> Array.map (fun c -> c.Images, c.BaselineOnly, c.CandidateOnly, c.PValue))
                        "the same discordant pairs and p-values"

                    Expect.equal stats.Accuracies unsharded.Statistics.Accuracies "the same intervals"

                    // Image by image: every merged row's per-image results are the unsharded row's.
                    let perImage (records: Record list) =
                        records
                        |> List.collect (function
                            | SnnEvaluated r -> [ r.T, r.Images, r.PerImageCorrect ]
                            | QcfsEvaluated q -> [ for p in q.Points -> p.T, p.Images, p.PerImageCorrect ]
                            | _ -> [])

                    let expected = perImage wholeRun.Records
                    Expect.isNonEmpty expected "rows with per-image results"
                    Expect.equal (perImage (snd (Merge.records shards))) expected "the same images right, in order"

                    // The merged folder keeps them, so snn compare pairs it with the unsharded run.
                    let compared = Compare.runs whole merged
                    Expect.isEmpty compared.Notes "every T and QCFS compared"

                    Expect.equal
                        (compared.Comparisons
                         |> Array.map (fun c -> c.Test.T, c.Test.Images, c.Test.BaselineOnly, c.Test.CandidateOnly)
                         |> Set.ofArray)
                        (expected
                         |> List.filter (fun (_, _, bits) -> not (isNull bits))
                         |> List.map (fun (t, images, _) -> t, images, 0, 0)
                         |> Set.ofList)
                        "every row of the merged run compares with the unsharded one, nothing discordant"

                    let experiment (r: RunResults) =
                        let o = System.Text.Json.Nodes.JsonNode.Parse(r.Experiment.GetRawText()).AsObject()
                        o.Remove "output_folder" |> ignore
                        o.ToJsonString()

                    Expect.equal (experiment fromMerge) (experiment unsharded) "the same experiment"
                    let shard1 = Partial.read shards.Head

                    Expect.isLessThan
                        (shard1.Records
                         |> List.pick (function
                             | SnnEvaluated r -> Some r.Images
                             | _ -> None))
                        unsharded.Splits.SnnTest
                        "a shard evaluates part of the SNN test set"

                    Expect.isTrue (File.Exists(Path.Combine(merged, "report.md"))) "the merge writes the report"

                    // The same shard twice, or a shard of another seed, is refused.
                    Expect.throwsC
                        (fun () -> Merge.merge [ shards.Head; shards.Head ] (tempFolder "twice") |> ignore)
                        (fun e -> Expect.stringContains e.Message "shard 2/2 is missing" "says which shard is missing")

                    // Shard 2 as another run (other seed, network, data settings or files) would write it.
                    let other = tempFolder "other-run"
                    let partial2 = Partial.read shards[1]

                    File.WriteAllText(
                        Path.Combine(other, Partial.FileName),
                        (Partial.codec.Encode
                            { partial2 with
                                Root = String.replicate 64 "0" })
                            .ToJsonString()
                    )

                    Expect.throwsC
                        (fun () -> Merge.merge [ shards.Head; other ] (tempFolder "mixed") |> ignore)
                        (fun e -> Expect.stringContains e.Message "shards of different runs" "says why") ] ]
