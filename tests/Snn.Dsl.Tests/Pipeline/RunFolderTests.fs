module Snn.Dsl.Tests.Pipeline.RunFolderTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

[<Tests>]
let tests =
    testList
        "RunFolder"
        [ test "a second run on a locked folder is refused at once with the holder's process" {
              let root = tempFolder "lock"
              use first = new RunFolder(root)

              let e =
                  Expect.throwsT<RunFolderLockedException> (fun () -> new RunFolder(root) |> ignore)

              ()
              Directory.Delete(root, true)
          }

          test "the lock is released when the run ends" {
              let root = tempFolder "unlock"
              (new RunFolder(root) :> IDisposable).Dispose()
              use again = new RunFolder(root)
              Directory.Delete(root, true)
          }

          test "stale temporary files of a killed write are removed at the next start" {
              let root = tempFolder "tmp"
              Directory.CreateDirectory(Path.Combine(root, "checkpoints")) |> ignore
              let stale = Path.Combine(root, "checkpoints", "clip-0123.ckpt.999.tmp")
              File.WriteAllText(stale, "half a checkpoint")
              use folder = new RunFolder(root)
              Expect.isFalse (File.Exists stale) "removed"
              Directory.Delete(root, true)
          }

          test "a record round-trips; a damaged or truncated record is refused naming the file and what to do" {
              let root = tempFolder "record"
              use folder = new RunFolder(root)
              let path = Path.Combine(folder.Steps, "r.json")
              let body = JsonNode.Parse """{"a": 1, "b": [1.5, "x"]}"""
              folder.WriteRecord(path, body)
              Expect.isTrue (JsonNode.DeepEquals(folder.ReadRecord path, body)) "round trip"

              File.WriteAllText(path, File.ReadAllText(path).Replace("1.5", "2.5"))

              let changed =
                  Expect.throwsT<InvalidDataException> (fun () -> folder.ReadRecord path |> ignore)

              let text = File.ReadAllText path
              File.WriteAllText(path, text.Substring(0, text.Length / 2))

              let truncated =
                  try
                      folder.ReadRecord path |> ignore
                      ""
                  with :? InvalidDataException as e ->
                      e.Message

              Expect.stringContains truncated path "names the file"
              Expect.stringContains truncated "delete it to recompute that step" "says what to do"
              Directory.Delete(root, true)
          }

          test
              "a write that fails (a full disk, injected) keeps the old file, leaves no temporary file and names the path" {
              let root = tempFolder "full"
              use folder = new RunFolder(root)
              let path = Path.Combine(folder.Steps, "r.json")
              folder.WriteRecord(path, JsonNode.Parse """{"a": 1}""")
              let before = File.ReadAllBytes path

              let message =
                  try
                      folder.WriteAtomic(
                          path,
                          fun s ->
                              s.Write([| 1uy; 2uy; 3uy |], 0, 3)
                              raise (IOException "No space left on device")
                      )
                      |> ignore

                      ""
                  with :? IOException as e ->
                      e.Message

              Expect.stringContains message path "names the path"
              Expect.stringContains message "No space left on device" "says why"
              Expect.equal (File.ReadAllBytes path) before "the finished record is kept"
              Expect.isEmpty (Directory.GetFiles(root, "*.tmp", SearchOption.AllDirectories)) "no temporary file"
              Directory.Delete(root, true)
          }

          test "the data of a run folder is recorded; other data is refused naming both identities" {
              let root = tempFolder "data"
              use folder = new RunFolder(root)
              folder.ClaimData("fashion-mnist", "/d/one", "aaaa")
              folder.ClaimData("fashion-mnist", "/d/copy-of-one", "aaaa")

              let message =
                  try
                      folder.ClaimData("fashion-mnist", "/d/two", "bbbb")
                      ""
                  with :? ArgumentException as e ->
                      e.Message

              for part in [ folder.Root; "/d/copy-of-one"; "aaaa"; "/d/two"; "bbbb"; "--out" ] do
                  Expect.stringContains message part "names both data sets and what to do"

              Directory.Delete(root, true)
          }

          test "a path that is a file cannot be a run folder, and the message names it" {
              let file = Path.GetTempFileName()

              let message =
                  try
                      new RunFolder(file) |> ignore
                      ""
                  with :? IOException as e ->
                      e.Message

              Expect.stringContains message file "names the path"
              Expect.stringContains message "is a file" "says what is wrong"
              File.Delete file
          } ]
