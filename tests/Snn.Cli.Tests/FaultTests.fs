/// Fault injection on the built `snn` (issue 17): damaged checkpoints and records, two runs on
/// one folder, resuming with other data, a full disk and unusable output folders; decompression
/// bombs and experiments that cannot run are in InputFaultTests.fs. Each case asserts the `snn:`
/// message, the documented exit code, no stack trace, and that nothing finished was lost.
module Snn.Cli.Tests.FaultTests

open System
open System.Diagnostics
open System.IO
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
                InputFaultTests.bombs
                InputFaultTests.invalidExperiments ] ]
