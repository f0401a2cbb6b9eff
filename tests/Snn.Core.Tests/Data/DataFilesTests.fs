module Snn.Core.Tests.Data.DataFilesTests

open System.IO
open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private openRegular (path: string) =
    let mutable length = 0L
    use s = DataFiles.OpenRegular(path, &length)
    length

[<Tests>]
let tests =
    testList
        "DataFiles"
        [ testCase "a regular file opens with its size and reads exactly that many bytes"
          <| fun () ->
              use tmp = new TempFolder()
              let p = write tmp.Path "f" false (bytesOf 1 1000)
              Expect.equal (openRegular p) 1000L "size"
              Expect.equal (DataFiles.ReadAllBytes(p, 1000L, "a file")) (bytesOf 1 1000) "content"

          testCase "a link is followed to its target"
          <| fun () ->
              use tmp = new TempFolder()
              let target = write tmp.Path "target" false (bytesOf 2 77)
              let l = link tmp.Path "l" target
              Expect.equal (openRegular l) 77L "the target's size, not the link's"

          testCase "a folder, an empty file, a missing file and a dangling link are named with what was expected"
          <| fun () ->
              use tmp = new TempFolder()
              let folder = Directory.CreateDirectory(tmp.File "d").FullName
              dataError (fun () -> openRegular folder) folder [ "is a folder: expected a regular file" ]
              let empty = write tmp.Path "empty" false [||]
              dataError (fun () -> openRegular empty) empty [ "is empty (0 bytes)" ]
              let missing = tmp.File "missing"
              dataError (fun () -> openRegular missing) missing [ "not found" ]
              let dangling = link tmp.Path "dangling" (tmp.File "nowhere")
              dataError (fun () -> openRegular dangling) dangling [ "not found"; "it links to" ]

          testCase "a device that reads without end is refused at once"
          <| fun () ->
              use tmp = new TempFolder()

              for device in [ "/dev/zero"; "/dev/urandom" ] do
                  let l = link tmp.Path (Path.GetFileName device) device
                  dataError (fun () -> openRegular l) l [ "is not a regular file"; "reading it gives data" ]
                  dataError (fun () -> openRegular device) device [ "is not a regular file" ]

          testCase "a file larger than the bound is refused without reading it"
          <| fun () ->
              use tmp = new TempFolder()
              let p = write tmp.Path "big" false (Array.zeroCreate 5000)

              dataError
                  (fun () -> DataFiles.ReadAllBytes(p, 4096L, "a names file"))
                  p
                  [ "has 5,000 bytes: expected a names file of at most 4,096 bytes" ]

          testCase "a file that grows beyond its size while read is refused"
          <| fun () ->
              use tmp = new TempFolder()
              let p = write tmp.Path "grows" false (bytesOf 3 100)
              let mutable length = 0L
              use s = DataFiles.OpenRegular(p, &length)
              let buffer = Array.zeroCreate<byte> 100
              s.ReadExactly(buffer)
              File.AppendAllText(p, "more")
              dataError (fun () -> s.Read(buffer, 0, 10)) p [ "gives more than its size of 100 bytes" ]

          testCase "Require names both accepted file names"
          <| fun () ->
              use tmp = new TempFolder()
              Expect.isNull (DataFiles.Find(tmp.Path, "x")) "absent"
              write tmp.Path "x" true [| 1uy |] |> ignore
              Expect.equal (DataFiles.Find(tmp.Path, "x")) (tmp.File "x.gz") "the .gz name"
              dataError (fun () -> DataFiles.Require(tmp.Path, "y")) (tmp.File "y") [ "expected y or y.gz" ] ]
