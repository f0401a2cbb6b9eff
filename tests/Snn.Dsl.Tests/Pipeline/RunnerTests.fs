module Snn.Dsl.Tests.Pipeline.RunnerTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting.Results

/// A small but complete experiment: every phase of the dual-phase pipeline and QCFS, on 1,024
/// Fashion-MNIST training images and 256 test images with a two-conv network.
let private tinyExperiment folder =
    let spec =
        network (Image(1, 28, 28)) [ conv 8; bn; act; avgPool 2; conv 8; bn; act; avgPool 2; flatten; linear 10 ]

    { Profiles.tiny with
        Name = "resume-test"
        Network = CustomNetwork spec
        Data =
            { Profiles.tiny.Data with
                TrainImages = Some 1024
                TestImages = Some 256 }
        Pipeline =
            Profiles.tiny.Pipeline
            |> List.map (function
                | TrainClip c -> TrainClip { c with Epochs = 3 }
                // T = 4 has no network fine-tuned for it: the Phase-I network at L = 2 is read
                // out of a longer run there, without Phase II.
                | Evaluate _ -> Evaluate [ 1; 2; 4 ]
                | Qcfs q -> Qcfs { q with TimeSteps = [ 1; 2; 4 ] }
                | p -> p)
        OutputFolder = folder }

let private tempFolder name =
    let path = Path.Combine(Path.GetTempPath(), $"snn-{name}-{Guid.NewGuid():N}")
    Directory.CreateDirectory path |> ignore
    path

/// The `snn` CLI built beside the test project (the README's set-up builds the solution).
let private snnDll () =
    let root =
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."))

    [ "Release"; "Debug" ]
    |> List.map (fun c -> Path.Combine(root, "Snn.Cli", "bin", c, "net10.0", "snn.dll"))
    |> List.tryFind File.Exists
    |> Option.defaultWith (fun () -> failtestf "snn.dll not found under %s/Snn.Cli/bin: build the solution first" root)

/// The numbers of a run that must not depend on interruptions (wall times and commit excluded).
/// Compared as JSON text: figures a run does not produce are NaN, and NaN <> NaN.
let private numbers (r: RunResults) =
    Text.Json.JsonSerializer.Serialize(
        (r.Ann, r.ClipAnn, r.Qcfs, r.DualPhase |> Array.map (fun d -> { d with CalibrationSeconds = 0.0 })),
        jsonOptions
    )

type private Recorder() =
    let lines = Collections.Concurrent.ConcurrentQueue<string>()
    member _.Lines = List.ofSeq lines

    interface IProgressSink with
        member _.Log m = lines.Enqueue m

        member _.Start(name, _) =
            lines.Enqueue $"start {name}"

            { new IProgressTask with
                member _.Advance(_, _) = ()
                member _.Finish() = () }

// Sequenced: the run draws initial weights from torch's process-wide generator, which tests
// running in parallel would otherwise draw from too.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "Runner"
              [ testCase
                    "a killed run resumes without redoing finished epochs and ends with the same numbers as an uninterrupted run"
                <| fun () ->
                    let whole = tempFolder "whole"
                    let killed = tempFolder "killed"

                    let uninterrupted =
                        Runner.run
                            { OutputFolder = None
                              DataPath = None
                              Progress = SilentProgress() }
                            (tinyExperiment whole)

                    // Start the same experiment in another process and kill it mid-training.
                    let config = Path.Combine(killed, "experiment-input.json")
                    Experiment.save config (tinyExperiment killed)

                    let psi =
                        ProcessStartInfo(
                            "dotnet",
                            $"\"{snnDll ()}\" run --config \"{config}\" --plain",
                            RedirectStandardOutput = true,
                            UseShellExecute = false
                        )

                    use child = Process.Start psi
                    let mutable line = child.StandardOutput.ReadLine()

                    while not (isNull line) && not (line.StartsWith "clip: epoch 2/3") do
                        line <- child.StandardOutput.ReadLine()

                    Expect.isNotNull line "the child run reached the clip network's second epoch"
                    child.Kill true
                    child.WaitForExit()

                    let meta =
                        Snn.Core.Checkpoints.Checkpoint.ReadMetadata(Path.Combine(killed, "checkpoints", "clip.ckpt"))

                    // The kill lands after the line of epoch 2 was read, so the checkpoint holds two epochs; on
                    // a loaded machine the child may have saved the third before the kill arrived. Either way
                    // the resumed run must redo none of the saved epochs, and only the saved count says which.
                    let saved =
                        Text.Json.JsonDocument.Parse(meta).RootElement.GetProperty("EpochsDone").GetInt32()

                    Expect.isTrue (saved = 2 || saved = 3) $"the checkpoint holds 2 or 3 finished clip epochs ({saved})"
                    Expect.isFalse (File.Exists(Path.Combine(killed, "results.json"))) "the killed run did not finish"

                    let recorder = Recorder()

                    let resumed =
                        Runner.run
                            { OutputFolder = None
                              DataPath = None
                              Progress = recorder }
                            (tinyExperiment killed)

                    let lines = recorder.Lines

                    if saved < 3 then
                        Expect.isTrue
                            (lines
                             |> List.exists (fun l -> l.StartsWith $"clip: resuming after epoch {saved} of 3"))
                            $"says it resumes after epoch {saved}"

                    Expect.isFalse
                        (lines
                         |> List.exists (fun l ->
                             [ 1..saved ] |> List.exists (fun e -> l.StartsWith $"clip: epoch {e}/3")))
                        "finished clip epochs are not trained again"

                    Expect.equal
                        (lines |> List.exists (fun l -> l.StartsWith "clip: epoch 3/3"))
                        (saved < 3)
                        "the last epoch is trained when it was not saved"

                    Expect.isFalse
                        (lines |> List.exists (fun l -> l.StartsWith "relu: epoch"))
                        "the finished ReLU stage is not trained again"

                    Expect.equal (numbers resumed) (numbers uninterrupted) "same numbers as the uninterrupted run"

                    // Phase II where Phase I fine-tuned (T = 1, 2); at T = 4 the L = 2 network, converted.
                    let byT = resumed.DualPhase |> Array.map (fun d -> d.T, d) |> Map.ofArray
                    Expect.sequenceEqual (Map.keys byT) [ 1; 2; 4 ] "every evaluated T is reported"

                    for t in [ 1; 2 ] do
                        Expect.equal byT[t].FineTunedL t $"T = {t} uses the network fine-tuned at L = T"
                        Expect.isFalse (Double.IsNaN byT[t].Snn.Final) $"Phase II ran at T = {t}"

                    Expect.equal byT[4].FineTunedL 2 "T = 4 uses the largest L below it"

                    Expect.isTrue
                        (Double.IsNaN byT[4].Snn.Final && Double.IsNaN byT[4].Snn.Weights)
                        "no Phase II at T = 4"

                    Expect.isFalse
                        (Double.IsNaN byT[4].Snn.Phase1 || Double.IsNaN byT[4].Snn.Direct)
                        "T = 4 is evaluated"

                    Expect.isNonEmpty byT[4].Layers "the error anatomy at T = 4 is recorded"
                    Expect.sequenceEqual (resumed.Qcfs.Snn |> Array.map _.T) [ 1; 2; 4 ] "QCFS at every T"

                    // A third run finds everything recorded and trains nothing.
                    let again = Recorder()

                    Runner.run
                        { OutputFolder = None
                          DataPath = None
                          Progress = again }
                        (tinyExperiment killed)
                    |> ignore

                    Expect.isEmpty (again.Lines |> List.filter (fun l -> l.StartsWith "start ")) "nothing is redone"
                    Directory.Delete(whole, true)
                    Directory.Delete(killed, true) ] ]
