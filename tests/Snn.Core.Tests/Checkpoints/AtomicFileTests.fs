module Snn.Core.Tests.Checkpoints.AtomicFileTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Snn.Core.Checkpoints
open Snn.Core.Tests.TempFolders

/// A pid no process can have (Linux pids stay below 2^22).
let private deadPid = Int32.MaxValue

/// Runs `work` with a child process that stays alive meanwhile, then ends that child.
let private withLiveProcess (work: Process -> unit) =
    use child = Process.Start(ProcessStartInfo("sleep", "60", UseShellExecute = false))

    try
        work child
    finally
        child.Kill()
        child.WaitForExit()

[<Tests>]
let tests =
    testList
        "AtomicFile"
        [ testCase "the temporary file is <full path>.<pid>.tmp beside the target"
          <| fun () ->
              let path = Path.Combine("some", "file.json")

              Expect.equal
                  (AtomicFile.TemporaryPath path)
                  (Path.GetFullPath path + $".{Environment.ProcessId}.tmp")
                  "named after the process"

          testCase "a write replaces the target with the whole content and leaves no temporary file"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "sub/record.json"
              AtomicFile.WriteAllText(path, "first")
              AtomicFile.WriteAllText(path, "second")
              Expect.equal (File.ReadAllText path) "second" "the last content"
              Expect.isEmpty (Directory.GetFiles(Path.GetDirectoryName path, "*.tmp")) "no temporary file"

          testCase "a write that fails midway (as on a full disk) keeps the old file and removes its temporary file"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "record.json"
              AtomicFile.WriteAllText(path, "old")

              Expect.throwsT<IOException>
                  (fun () ->
                      AtomicFile.Write(
                          path,
                          fun stream ->
                              stream.Write("partial"B, 0, 7)
                              raise (IOException "No space left on device")
                      ))
                  "the write fails"

              Expect.equal (File.ReadAllText path) "old" "the target is unchanged"
              Expect.isFalse (File.Exists(AtomicFile.TemporaryPath path)) "the temporary file was removed"

          testCase "stale temporary files of dead writers are removed; this process's and live writers' are kept"
          <| fun () ->
              use folder = new TempFolder()
              let sub = folder.File "checkpoints"
              Directory.CreateDirectory sub |> ignore
              let dead = Path.Combine(sub, $"clip.ckpt.{deadPid}.tmp")
              let mine = folder.File $"results.json.{Environment.ProcessId}.tmp"

              let unrelated =
                  [ folder.File "notes.tmp"; folder.File "a.b.tmp"; folder.File "a.123.tmpx" ]

              for f in dead :: mine :: unrelated do
                  File.WriteAllText(f, "x")

              withLiveProcess (fun child ->
                  let live = folder.File $"relu.ckpt.{child.Id}.tmp"
                  File.WriteAllText(live, "x")
                  // A file older than the process with its pid: that pid was reused, the writer is gone.
                  let reused = Path.Combine(sub, $"qc.ckpt.{child.Id}.tmp")
                  File.WriteAllText(reused, "x")
                  File.SetLastWriteTimeUtc(reused, DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc))

                  let removed = AtomicFile.RemoveStaleTemporaryFiles folder.Path |> Set.ofSeq

                  Expect.equal
                      removed
                      (Set.ofList [ Path.GetFullPath dead; Path.GetFullPath reused ])
                      "exactly the stale ones"

                  for kept in live :: mine :: unrelated do
                      Expect.isTrue (File.Exists kept) $"{Path.GetFileName kept} is kept")

          testCase "without recursion only the folder itself is cleaned; a missing folder is no error"
          <| fun () ->
              use folder = new TempFolder()
              let nested = folder.File "stages"
              Directory.CreateDirectory nested |> ignore
              let top = folder.File $"a.json.{deadPid}.tmp"
              let inner = Path.Combine(nested, $"b.json.{deadPid}.tmp")
              File.WriteAllText(top, "x")
              File.WriteAllText(inner, "x")
              let removed = AtomicFile.RemoveStaleTemporaryFiles(folder.Path, recursive = false)
              Expect.equal (List.ofSeq removed) [ Path.GetFullPath top ] "only the top-level file"
              Expect.isTrue (File.Exists inner) "the nested one stays"
              Expect.isEmpty (AtomicFile.RemoveStaleTemporaryFiles(folder.File "missing")) "nothing to do" ]
