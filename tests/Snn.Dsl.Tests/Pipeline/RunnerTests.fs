module Snn.Dsl.Tests.Pipeline.RunnerTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// A small but complete experiment: every step of the dual-phase pipeline and QCFS, on 1,024
/// Fashion-MNIST training images and 256 test images with a two-conv network. T = 4 has no network
/// fine-tuned for it: the Phase-I network at L = 2 is read out of a longer run there, without Phase II.
let private tinyExperiment folder =
    let potential, weights = Profiles.smallPhaseTwo 256 256 128

    { Profiles.tiny with
        Name = "resume-test"
        Network = CustomNetwork smallSpecBn
        Data =
            { Profiles.tiny.Data with
                TrainImages = Some 1024
                TestImages = Some 256 }
        Pipeline =
            [ trainRelu 1
              trainClip 3
              foldBatchNorm
              evaluateDirect [ 1; 2; 4 ]
              fineTuneQC [ 1; 2 ] 1
              convert
              evaluate [ 1; 2; 4 ]
              ablation [ potential; weights ]
              phaseTwo [ potential; weights; potential ]
              evaluate [ 1; 2 ]
              Step.create
                  Qcfs.definition
                  { Qcfs.defaults with
                      Epochs = 1
                      TimeSteps = [ 1; 2; 4 ] }
              report ]
        OutputFolder = folder }

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

                    // Run the same experiment in another process and kill it (SIGKILL) three times: in the
                    // middle of training, in the middle of the fine-tune step (L = 1 done, L = 2 started),
                    // and in Phase II; each run resumes what the one before left.
                    let config = Path.Combine(killed, "experiment-input.json")
                    Experiment.save config (tinyExperiment killed)

                    let runUntil (prefix: string) =
                        let psi =
                            ProcessStartInfo(
                                "dotnet",
                                $"\"{snnDll ()}\" run --config \"{config}\" --plain",
                                RedirectStandardOutput = true,
                                UseShellExecute = false
                            )

                        use child = Process.Start psi
                        let lines = Collections.Generic.List<string>()
                        let mutable line = child.StandardOutput.ReadLine()

                        while not (isNull line) && not (line.StartsWith prefix) do
                            lines.Add line
                            line <- child.StandardOutput.ReadLine()

                        Expect.isNotNull line $"the child run reached '{prefix}'"
                        child.Kill true
                        child.WaitForExit()
                        List.ofSeq lines

                    runUntil "clip: epoch 2/3" |> ignore

                    let checkpoint =
                        Directory.GetFiles(Path.Combine(killed, "checkpoints"), "clip-*.ckpt")
                        |> Array.exactlyOne

                    let meta = Snn.Core.Checkpoints.Checkpoint.ReadMetadata checkpoint
                    // The kill lands after the line of epoch 2 was read, so the checkpoint holds two epochs; on
                    // a loaded machine the child may have saved the third before the kill arrived. Either way
                    // the resumed run must redo none of the saved epochs, and only the saved count says which.
                    let saved =
                        Text.Json.JsonDocument.Parse(meta).RootElement.GetProperty("EpochsDone").GetInt32()

                    Expect.isTrue (saved = 2 || saved = 3) $"the checkpoint holds 2 or 3 finished clip epochs ({saved})"
                    Expect.isFalse (File.Exists(Path.Combine(killed, "results.json"))) "the killed run did not finish"

                    let second = runUntil "finetune-L2: act1"

                    if saved < 3 then
                        Expect.isTrue
                            (second
                             |> List.exists (fun l -> l.StartsWith $"clip: resuming after epoch {saved} of 3"))
                            $"says it resumes after epoch {saved}"

                    Expect.isFalse
                        (second
                         |> List.exists (fun l ->
                             [ 1..saved ] |> List.exists (fun e -> l.StartsWith $"clip: epoch {e}/3")))
                        "finished clip epochs are not trained again"

                    Expect.equal
                        (second |> List.exists (fun l -> l.StartsWith "clip: epoch 3/3"))
                        (saved < 3)
                        "the last epoch is trained when it was not saved"

                    Expect.isFalse
                        (second |> List.exists (fun l -> l.StartsWith "relu: epoch"))
                        "the finished ReLU step is not trained again"

                    let third = runUntil "T=1 "

                    Expect.isTrue
                        (third
                         |> List.exists (fun l ->
                             l.Contains "the QC ANN at L = 1 was made earlier with the same settings: reusing it"))
                        "the finished L = 1 fine-tune of the interrupted step is reused"

                    Expect.isFalse
                        (third |> List.exists (fun l -> l.StartsWith "finetune-L1: epoch"))
                        "and not trained again"

                    let recorder = Recorder()

                    let resumed =
                        Runner.run
                            { OutputFolder = None
                              DataPath = None
                              Progress = recorder }
                            (tinyExperiment killed)

                    let w = resumed.WallSeconds

                    Expect.isGreaterThanOrEqual
                        w.Total
                        (w.Ann + w.Phase1 + w.Phase2 + w.Qcfs)
                        "wall times add up over the resumed runs (epochs trained before each kill included)"

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
                    Directory.Delete(killed, true)

                testCase
                    "an imported model (BN + ReLU) runs the dual-phase pipeline end to end, reported beside the imported ANN"
                <| fun () ->
                    let folder = tempFolder "imported"
                    let file = ImportedPipelines.fashionFile 20 None
                    let potential, weights = Profiles.smallPhaseTwo 256 256 128

                    let steps =
                        [ importAnn
                          Step.create ClipFromRelu.definition { Percentile = 99.9; Images = 256 }
                          fineTuneClip 1
                          foldBatchNorm
                          evaluateDirect [ 1; 2; 4 ]
                          fineTuneQC [ 1; 2 ] 1
                          convert
                          evaluate [ 1; 2; 4 ]
                          phaseTwo [ potential; weights; potential ]
                          evaluate [ 1; 2 ]
                          report ]

                    let e = ImportedPipelines.experiment folder file steps
                    let r = (run (Recorder()) e).Results
                    Expect.equal (r.Imported |> Array.map _.OnnxFile) [| file |] "the imported ANN"
                    let byT = r.DualPhase |> Array.map (fun d -> d.T, d) |> Map.ofArray
                    Expect.sequenceEqual (Map.keys byT) [ 1; 2; 4 ] "every T"

                    for t in [ 1; 2 ] do
                        let s = byT[t].Snn

                        for x in [ s.Direct; s.Phase1; s.Final ] do
                            Expect.isFalse (Double.IsNaN x) $"T = {t}: every stage evaluated"

                        Expect.equal
                            (byT[t].Layers |> Array.map _.Stage |> Array.distinct)
                            [| "phase1"; "final" |]
                            $"T = {t}: the error anatomy before and after Phase II"

                    let report = File.ReadAllText(Path.Combine(folder, "report.md"))

                    let ann =
                        r.Ann.TestAccuracy.ToString("F2", Globalization.CultureInfo.InvariantCulture)

                    for t in [ 1; 2; 4 ] do
                        Expect.stringContains
                            report
                            $"| {t} | {ann} |"
                            $"T = {t}: the imported ANN's accuracy beside the SNN's"

                    // A rerun skips every step.
                    let again = Recorder()
                    run again e |> ignore

                    Expect.equal (again.Lines |> List.filter (fun l -> l.Contains ": will run: ")) [] "nothing reruns"

                    Directory.Delete(folder, true)
                    File.Delete file ] ]
