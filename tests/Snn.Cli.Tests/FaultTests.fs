/// Fault injection on the built `snn` (issue 17): damaged checkpoints and records, two runs on
/// one folder, resuming with other data, a full disk, unusable output folders, decompression
/// bombs and experiments that cannot run. Each case asserts the `snn:` message, the documented
/// exit code, no stack trace, and that nothing finished was lost.
module Snn.Cli.Tests.FaultTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Text.Json.Nodes
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Cli
open Snn.Cli.Tests.Common
open Snn.Cli.Tests.FaultFixture

/// Ways to damage a file: cut to half, emptied, or 64 bytes in its middle overwritten.
let private damages: (string * (string -> unit)) list =
    [ "truncated to half", (fun f -> File.WriteAllBytes(f, (File.ReadAllBytes f)[.. int (FileInfo f).Length / 2 - 1]))
      "truncated to 0 bytes", (fun f -> File.WriteAllBytes(f, [||]))
      "with 64 bytes overwritten",
      fun f ->
          let b = File.ReadAllBytes f
          let at = max 0 (b.Length / 2 - 32)

          for i in at .. min (b.Length - 1) (at + 63) do
              b[i] <- b[i] ^^^ 0x5Auy

          File.WriteAllBytes(f, b) ]

/// A damaged file of a finished run, found when the step that reads it runs again (its own
/// record, or the record of the step that needs it, deleted): refused with exit 4 naming the
/// file and the remedy; every other file is kept.
let private damagedFileCase (what: string) (sub: string) (pattern: string) (rerun: string option) =
    testList
        what
        [ for how, damage in damages ->
              testCase $"a {what} {how} is refused naming it and what to do; nothing else is lost"
              <| fun () ->
                  use tmp = new TempFolder()
                  let out = copyOfFinished tmp
                  let target = single out sub pattern
                  let record = rerun |> Option.map (fun step -> single out "steps" $"*-{step}.json")
                  record |> Option.iter File.Delete
                  let before = snapshot out
                  damage target

                  let r =
                      runSnn (runArgs (writeConfig tmp.Path ((experimentNode 1).ToJsonString())) dataFolder.Value out)

                  expectRefused ExitCode.InputOutput [ target; "delete it to recompute" ] r
                  |> ignore

                  expectKept before [ Path.GetRelativePath(out, target) ] out ]

let private damagedFiles =
    testList
        "damaged files"
        [ damagedFileCase "training checkpoint" "checkpoints" "relu-*.ckpt" (Some "trainRelu")
          damagedFileCase "saved network (artifact checkpoint)" "artifacts" "qc-L1-*.ckpt" (Some "fineTuneQC")
          damagedFileCase "spiking network artifact" "artifacts" "spiking-T1-*.snn" (Some "evaluate")
          damagedFileCase "step record" "steps" "*-convert.json" None

          testCase "deleting the damaged checkpoint as the message says recomputes that step and finishes"
          <| fun () ->
              use tmp = new TempFolder()
              let out = copyOfFinished tmp
              let ckpt = single out "checkpoints" "relu-*.ckpt"
              File.Delete(single out "steps" "*-trainRelu.json")
              File.WriteAllBytes(ckpt, [||])
              let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
              let refused = runSnn (runArgs config dataFolder.Value out)
              Expect.equal refused.ExitCode ExitCode.InputOutput refused.Show
              File.Delete ckpt
              let r = runSnn (runArgs config dataFolder.Value out)
              Expect.equal r.ExitCode 0 r.Show
              Expect.stringContains r.Stdout "trainRelu" "the step ran again"
              Expect.stringContains r.Stdout "finished earlier, skipped" "the later steps were kept" ]

let private concurrentRuns =
    testCase "a second run on a folder in use is refused at once naming the holder's process and start time"
    <| fun () ->
        use tmp = new TempFolder()
        let out = tmp.File "run"
        // 40 ReLU epochs: the first run holds the folder long after the second has been refused.
        let config = writeConfig tmp.Path ((experimentNode 40).ToJsonString())
        let first, stdout, stderr = startSnn (runArgs config dataFolder.Value out)
        let info = Path.Combine(out, ".lock.info")
        let clock = Stopwatch.StartNew()

        try
            while not (File.Exists info)
                  && not first.HasExited
                  && clock.Elapsed.TotalSeconds < 120.0 do
                Threading.Thread.Sleep 10

            // (Its output is read only after it ended: Result waits for that.)
            if first.HasExited then
                failtestf "the first run ended before holding the folder\n%s\n%s" stdout.Result stderr.Result
            // Stopped, so that it holds the folder however slowly the second run starts.
            let code, err = sh $"kill -STOP {first.Id}"
            Expect.equal code 0 $"kill -STOP {first.Id}: {err}"
            let clock = Stopwatch.StartNew()
            let r = runSnn (runArgs config dataFolder.Value out)
            let seconds = clock.Elapsed.TotalSeconds

            expectRefused ExitCode.RunFolderLocked [ out; $"process {first.Id}"; "started"; "--out" ] r
            |> ignore

            expectNoCompute r
            Expect.isLessThan seconds 60.0 "refused at once, without reading the data"
            Expect.isFalse first.HasExited "the first run still holds the folder"
        finally
            // A stopped process ends on SIGKILL as well.
            if not first.HasExited then
                first.Kill()

            first.WaitForExit()

let private otherData =
    testCase "resuming a finished run with other data is refused naming both data sets and identities"
    <| fun () ->
        use tmp = new TempFolder()
        let out = copyOfFinished tmp
        let before = snapshot out
        let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
        let r = runSnn (runArgs config otherDataFolder.Value out)
        let recorded = RunFolder.ReadRecordFile(Path.Combine(out, "data.json"))
        let digest = recorded["digest"].GetValue<string>()

        let message =
            expectRefused
                ExitCode.Usage
                [ out
                  dataFolder.Value
                  otherDataFolder.Value
                  digest
                  "data identity"
                  "--out" ]
                r

        Expect.equal (message.Split("data identity").Length) 3 "names both identities"
        expectNoCompute r
        expectKept before [] out

/// Mounts a tmpfs of `size` at `folder` for `f`, unmounting it afterwards.
let private withTmpfs (options: string) (folder: string) (f: unit -> unit) =
    Directory.CreateDirectory folder |> ignore
    let code, err = sh $"mount -t tmpfs -o {options} tmpfs '{folder}'"
    Expect.equal code 0 $"mount a tmpfs: {err}"

    try
        f ()
    finally
        sh $"umount '{folder}'" |> ignore

let private diskFull =
    testCase "a full disk ends with exit 4 naming the file; no temporary file is left and the finished steps resume"
    <| fun () ->
        if not canMount.Value then
            // A full disk is only real on a small mounted tmpfs, and mounting needs root; CI runs as root.
            skiptest "needs root to mount a small tmpfs"

        use tmp = new TempFolder()
        let disk = tmp.File "disk"
        let out = Path.Combine(disk, "run")
        let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())

        let finishedSize =
            Directory.GetFiles(finishedRun.Value, "*", SearchOption.AllDirectories)
            |> Array.sumBy (fun f -> (FileInfo f).Length)

        // Half of what a finished run needs: some steps finish, then the disk is full.
        let size = max 8192L (finishedSize / 2L)

        withTmpfs $"size={size}" disk (fun () ->
            let r = runSnn (runArgs config dataFolder.Value out)

            expectRefused ExitCode.InputOutput [ out; "No space left on device" ] r
            |> ignore

            Expect.isEmpty (Directory.GetFiles(out, "*.tmp", SearchOption.AllDirectories)) "no *.tmp left"

            let records = Directory.GetFiles(Path.Combine(out, "steps"), "*.json")
            Expect.isNonEmpty records "some steps finished before the disk was full"

            for record in records do
                RunFolder.ReadRecordFile record |> ignore

            // The same folder on a disk with room: the finished steps are taken, not redone.
            let moved = tmp.File "moved"
            let code, err = sh $"cp -a '{out}' '{moved}'"
            Expect.equal code 0 err
            let resumed = runSnn (runArgs config dataFolder.Value moved)
            Expect.equal resumed.ExitCode 0 resumed.Show

            let skipped =
                resumed.Stdout.Split('\n')
                |> Array.filter (fun l -> l.Contains "finished earlier, skipped")

            Expect.equal skipped.Length records.Length $"every finished step is kept\n{resumed.Show}")

let private outFolders =
    testList
        "--out"
        [ testCase "--out naming an existing file is refused naming it; the file is left alone"
          <| fun () ->
              use tmp = new TempFolder()
              let out = tmp.File "a-file"
              File.WriteAllText(out, "keep me")
              let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
              let r = runSnn (runArgs config dataFolder.Value out)
              expectRefused ExitCode.InputOutput [ out; "is a file"; "--out" ] r |> ignore
              Expect.equal (File.ReadAllText out) "keep me" "unchanged"

          testCase "--out in a read-only folder is refused naming it"
          <| fun () ->
              use tmp = new TempFolder()
              let readOnly = tmp.File "read-only"
              let out = Path.Combine(readOnly, "run")
              let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())

              let check () =
                  let r = runSnn (runArgs config dataFolder.Value out)
                  expectRefused ExitCode.InputOutput [ out; "--out" ] r |> ignore
                  expectNoCompute r

              if canMount.Value then
                  withTmpfs "ro,size=64k" readOnly check
              else
                  Directory.CreateDirectory readOnly |> ignore
                  File.SetUnixFileMode(readOnly, UnixFileMode.UserRead ||| UnixFileMode.UserExecute)
                  check ()

          testCase "a finished run folder that became read-only is refused as read-only, not as in use"
          <| fun () ->
              if not canMount.Value then
                  // chmod does not stop root, so a read-only folder for root needs a read-only bind mount.
                  skiptest "needs root to mount a read-only copy"

              use tmp = new TempFolder()
              let source = copyOfFinished tmp
              let before = snapshot source
              let mounted = tmp.File "mounted"
              Directory.CreateDirectory mounted |> ignore
              let code, err = sh $"mount --bind -o ro '{source}' '{mounted}'"
              Expect.equal code 0 $"bind-mount read-only: {err}"

              try
                  let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
                  let r = runSnn (runArgs config dataFolder.Value mounted)

                  let message =
                      expectRefused ExitCode.InputOutput [ mounted; "Read-only file system"; "--out" ] r

                  Expect.isFalse (message.Contains "in use") "not reported as locked"
              finally
                  sh $"umount '{mounted}'" |> ignore

              expectKept before [] source ]

let private gzip (bytes: byte[]) (zeros: int64) =
    use output = new MemoryStream()

    do
        use z = new GZipStream(output, CompressionLevel.Fastest, true)
        z.Write(bytes, 0, bytes.Length)
        let block = Array.zeroCreate<byte> (1 <<< 20)
        let mutable left = zeros

        while left > 0L do
            let n = int (min left block.LongLength)
            z.Write(block, 0, n)
            left <- left - int64 n

    output.ToArray()

let private bigEndian (v: int) =
    [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

let private imagesHeader (n: int) =
    Array.concat [ bigEndian 0x803; bigEndian n; bigEndian 28; bigEndian 28 ]

/// A dataset folder whose training images file is replaced by `write`.
let private dataWith (tmp: TempFolder) (write: string -> unit) =
    let data = tmp.File "data"
    Directory.CreateDirectory data |> ignore
    writeIdx data true 600 100
    write (Path.Combine(data, "train-images-idx3-ubyte.gz"))
    data, Path.Combine(data, "train-images-idx3-ubyte.gz")

let private bombs =
    testList
        "decompression bombs"
        [ for what, write, says in
              [ "a gzip file whose IDX header declares 2^31-1 images",
                (fun (f: string) ->
                    File.WriteAllBytes(f, gzip (imagesHeader Int32.MaxValue) (1L <<< 20))
                    // Labels declaring as many, so that the image count itself is what is refused.
                    let labels = Path.Combine(Path.GetDirectoryName f, "train-labels-idx1-ubyte.gz")

                    File.WriteAllBytes(
                        labels,
                        gzip (Array.append (bigEndian 0x801) (bigEndian Int32.MaxValue)) (1L <<< 20)
                    )),
                "SNN_DATA_MEMORY"
                "a gzip file of zeros far beyond the images its header declares",
                (fun f -> File.WriteAllBytes(f, gzip (imagesHeader 600) (256L <<< 20))),
                "too long"
                "a link to /dev/zero",
                (fun f ->
                    File.Delete f
                    File.CreateSymbolicLink(f, "/dev/zero") |> ignore),
                "/dev/zero" ] ->
              testCase $"{what} is refused naming the file (exit 3), before its bytes fill the memory"
              <| fun () ->
                  use tmp = new TempFolder()
                  let data, _ = dataWith tmp write
                  let out = tmp.File "run"
                  let config = writeConfig tmp.Path ((experimentNode 1).ToJsonString())
                  let r = runSnn (runArgs config data out)
                  expectRefused ExitCode.Data [ data; says ] r |> ignore
                  Expect.isFalse (r.Stdout.Contains "epoch 1/") $"refused before training\n{r.Show}" ]

/// An experiment changed by `edit` (of its JSON node or text) is refused with exit 2 before any
/// compute, the message holding every fragment; a finished run given as --out is kept.
let private refusedCase (what: string) (json: string) (fragments: string list) =
    testCase $"{what} is refused before compute naming the problem"
    <| fun () ->
        use tmp = new TempFolder()
        let out = copyOfFinished tmp
        let before = snapshot out
        let r = runSnn (runArgs (writeConfig tmp.Path json) dataFolder.Value out)
        expectRefused ExitCode.Usage fragments r |> ignore
        expectNoCompute r
        expectKept before [] out

let private withSpec (layers: Layer list) =
    (Experiment.toNode
        { experiment 1 with
            Network = CustomNetwork(network (Image(1, 28, 28)) layers) })
        .ToJsonString()

/// The first step of an experiment's pipeline (trainRelu).
let private firstStep (n: JsonNode) = n["pipeline"].AsArray().[0]

let private edited (edit: JsonNode -> unit) =
    let node = experimentNode 1
    edit node
    node.ToJsonString()

let private invalidExperiments =
    testList
        "refused before compute"
        [ refusedCase
              "a max-pooling network"
              (withSpec [ conv 4; act; maxPool 2; conv 4; act; avgPool 2; flatten; linear 10 ])
              [ "max" ]
          refusedCase
              "a network without activations"
              (withSpec [ conv 4; avgPool 2; flatten; linear 10 ])
              [ "activation" ]
          refusedCase
              "a 5-class network on 10-class data"
              (withSpec [ conv 4; act; avgPool 2; flatten; linear 5 ])
              [ "5 outputs"; "10 classes" ]
          refusedCase "epochs -1" (edited (fun n -> (firstStep n)["epochs"] <- JsonValue.Create -1)) [ "epochs = -1" ]
          refusedCase
              "epochs 2^31-1"
              (edited (fun n -> (firstStep n)["epochs"] <- JsonValue.Create Int32.MaxValue))
              [ "epochs = 2147483647" ]
          refusedCase
              "a learning rate of 1e400"
              ((edited (fun n ->
                  (firstStep n)["optimizer"] <-
                      JsonNode.Parse """{"learning_rate": 0.123456, "momentum": 0.9, "weight_decay": 0.0005}"""))
                  .Replace("0.123456", "1e400"))
              [ "learning_rate" ]
          refusedCase
              "an unknown JSON key"
              (edited (fun n -> n.AsObject()["seeed"] <- JsonValue.Create 1))
              [ "seeed"; "seed" ]
          refusedCase
              "several type errors"
              (edited (fun n ->
                  n.AsObject()["seed"] <- JsonValue.Create "zero"
                  (firstStep n)["epochs"] <- JsonValue.Create "one"
                  n["data"].["train_images"] <- JsonValue.Create true))
              [ "seed"; "epochs"; "train_images" ] ]

// Sequenced: each case runs snn on the shared cores; slow: each runs a child process, several a
// whole (tiny) experiment.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "Faults"
              [ damagedFiles
                concurrentRuns
                otherData
                diskFull
                outFolders
                bombs
                invalidExperiments ] ]
