/// What the fault-injection tests (FaultTests.fs) share: a tiny IDX dataset, a tiny experiment
/// that `snn run` finishes in seconds, one finished run folder to copy and damage, snapshots of a
/// run folder's files, and the checks every refusal must pass.
module Snn.Cli.Tests.FaultFixture

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Expecto
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Pipeline
open Snn.Cli.Tests.Common

/// A folder under the temp path that lives as long as the test process (shared fixtures).
let private fixtureFolder (name: string) =
    Snn.Tests.TempFolders.create "snn-cli-tests" $"fault-%s{name}"

/// A tiny plain IDX dataset: 600 training and 100 test images of 28 x 28 (Common.writeIdx).
let dataFolder =
    lazy
        (let folder = fixtureFolder "data"
         writeIdx folder false 600 100
         folder)

/// Another dataset of the same kind and shape (more training images): other data, same network.
let otherDataFolder =
    lazy
        (let folder = fixtureFolder "other-data"
         writeIdx folder false 700 100
         folder)

/// A two-conv network without batch norm: compiles and trains in a moment.
let spec =
    network (Image(1, 28, 28)) [ conv 16; act; avgPool 2; conv 16; act; avgPool 2; flatten; linear 10 ]

/// A complete pipeline in miniature: ReLU ANN, clip ANN, conversion, SNN evaluation and report,
/// on 256 training, 100 held-out and 64 SNN test images.
let experiment (reluEpochs: int) : Experiment =
    { Name = "faults"
      Data =
        { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
          Path = None
          TrainImages = Some 256
          TestImages = Some 64
          HeldOut = Some 100
          EvalBatchSize = None }
      Network = CustomNetwork spec
      Pipeline =
        [ trainRelu reluEpochs
          trainClip 1
          fineTuneQC [ 1; 2 ] 1
          convert
          evaluate [ 1; 2 ]
          report ]
      Seed = 0
      Seeds = []
      OutputFolder = "runs/faults"
      Profile = Custom "faults"
      Device = "cpu" }

/// The experiment as JSON (Experiment.toNode), to be changed by a test.
let experimentNode (reluEpochs: int) =
    Experiment.toNode (experiment reluEpochs)

/// Writes an experiment JSON text into `folder`; returns its path.
let writeConfig (folder: string) (json: string) =
    let path = Path.Combine(folder, "experiment.json")
    File.WriteAllText(path, json)
    path

/// The command line of `snn run` for a config, data folder and output folder.
let runArgs (config: string) (data: string) (out: string) =
    [ "run"; "--config"; config; "--data"; data; "--out"; out; "--plain" ]

/// Runs the experiment (ReLU epochs `reluEpochs`) into `out` on `data`; the config is written
/// beside `out`.
let runInto (reluEpochs: int) (data: string) (out: string) =
    let parent = Path.GetDirectoryName(Path.GetFullPath out)
    Directory.CreateDirectory parent |> ignore
    let config = writeConfig parent ((experimentNode reluEpochs).ToJsonString())
    runSnn (runArgs config data out)

/// One run folder of the experiment, finished; tests copy it (copyOfFinished) and never change it.
let finishedRun =
    lazy
        (let root = fixtureFolder "finished"
         let out = Path.Combine(root, "run")
         let r = runInto 1 dataFolder.Value out
         Expect.equal r.ExitCode 0 $"the fixture run finishes\n{r.Show}"
         out)

/// A copy of the finished run folder at `<tmp>/run`.
let copyOfFinished (tmp: TempFolder) =
    let out = tmp.File "run"
    Snn.Tests.TempFolders.copyTree finishedRun.Value out
    out

/// Files of a run folder (relative path -> SHA-256), without the lock files.
let snapshot (folder: string) : Map<string, string> =
    Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
    |> Array.map (fun f -> Path.GetRelativePath(folder, f), Hash.file f)
    |> Array.filter (fun (rel, _) -> rel <> ".lock" && rel <> ".lock.info")
    |> Map.ofArray

/// Every file of `before` (except `changed`) is still in `folder` with the same bytes, and no
/// temporary file is left: nothing finished was lost.
let expectKept (before: Map<string, string>) (changed: string list) (folder: string) =
    let after = snapshot folder

    for KeyValue(rel, sha) in before do
        if not (List.contains rel changed) then
            Expect.equal (Map.tryFind rel after) (Some sha) $"{rel} is kept unchanged"

    let tmps = Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories)
    Expect.isEmpty tmps "no temporary file is left behind"

/// The one file of a run folder's subfolder whose name matches `pattern` (e.g. "*-trainRelu.json").
let single (folder: string) (sub: string) (pattern: string) =
    match Directory.GetFiles(Path.Combine(folder, sub), pattern) with
    | [| f |] -> f
    | fs -> failtestf "expected one %s/%s in %s, found %d" sub pattern folder fs.Length

/// The `snn:` lines of stderr, as one text.
let snnMessage (r: SnnResult) =
    r.Stderr.Replace("\r\n", "\n").Split('\n')
    |> Array.filter (fun l -> l.StartsWith "snn: ")
    |> String.concat "\n"

/// Expects a refusal: exit code `code`, an `snn:` message last that holds every fragment, and no
/// stack trace anywhere. Returns the message.
let expectRefused (code: int) (fragments: string list) (r: SnnResult) =
    Expect.equal r.ExitCode code $"exit code\n{r.Show}"
    Expect.stringStarts r.LastErrorLine "snn: " $"ends with an snn: message\n{r.Show}"
    Expect.isFalse (hasStackTrace r.Stderr) $"no stack trace on stderr\n{r.Show}"
    Expect.isFalse (hasStackTrace r.Stdout) $"no stack trace on stdout\n{r.Show}"
    let message = snnMessage r

    for f in fragments do
        Expect.stringContains message f $"the message says {f}\n{r.Show}"

    message

/// Expects no training, conversion or evaluation to have started (refused before compute).
let expectNoCompute (r: SnnResult) =
    for word in [ "epoch 1/"; "will run" ] do
        Expect.isFalse (r.Stdout.Contains word) $"nothing computed ({word})\n{r.Show}"

/// Starts `snn <args>` without waiting; the caller waits for it or kills it.
let startSnn (args: string list) =
    let info = ProcessStartInfo("dotnet")
    info.ArgumentList.Add snnDll.Value

    for a in args do
        info.ArgumentList.Add a

    info.WorkingDirectory <- Path.GetTempPath()
    info.UseShellExecute <- false
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    info.Environment.Remove "SNN_DEBUG" |> ignore
    let p = Process.Start info
    p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync()

/// Runs a shell command (as the test user); fails the test when it fails.
let sh (command: string) =
    let info = ProcessStartInfo("bash")
    info.ArgumentList.Add "-c"
    info.ArgumentList.Add command
    info.UseShellExecute <- false
    info.RedirectStandardError <- true
    use p = Process.Start info
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, err

/// True when the tests run as root and can mount a tmpfs (the disk-full and read-only tests).
let canMount =
    lazy
        (let probe = fixtureFolder "mount-probe"
         let code, _ = sh $"mount -t tmpfs -o size=64k tmpfs '{probe}' && umount '{probe}'"
         code = 0)
