module Snn.Core.Tests.Data.DecodedFileTests

open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

/// All the content of a file read in pieces of `piece` bytes, and the end check.
let private readAll (path: string) (piece: int) =
    use f = DecodedFile.Open path
    let chunks = ResizeArray<byte[]>()
    let mutable go = true

    while go do
        let b = Array.zeroCreate piece
        let n = f.Fill(System.Span b)
        chunks.Add b.[.. n - 1]
        go <- n = piece

    let content = Array.concat chunks

    let crcFrom (start: int64) =
        Crc32.Of(System.ReadOnlySpan(content, int start, content.Length - int start))

    content, f.Gzipped, f.GzipEndProblem(int64 content.Length, System.Func<int64, uint32> crcFrom)

[<Tests>]
let tests =
    testList
        "DecodedFile"
        [ testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 300 }
              "raw files read as stored; gzip files of one or more members read as their concatenation, whole"
          <| fun (seed: int) (members: byte) (pieceRaw: byte) ->
              use tmp = new TempFolder()
              let r = System.Random(seed)
              let content = bytesOf seed (r.Next(1, 5000))
              let m = 1 + int members % 4
              let cuts = List.init (m - 1) (fun _ -> r.Next(content.Length + 1)) |> List.sort

              let pieces =
                  List.pairwise ((0 :: cuts) @ [ content.Length ])
                  |> List.map (fun (a, b) -> content.[a .. b - 1])

              let gz = System.IO.Path.Combine(tmp.Path, "g.gz")
              System.IO.File.WriteAllBytes(gz, gzipMembers pieces)
              let raw = write tmp.Path "r" false (Array.append [| 0uy |] content)
              let piece = 1 + int pieceRaw
              let gzContent, gzipped, gzProblem = readAll gz piece
              let rawContent, rawGzipped, rawProblem = readAll raw piece

              gzContent = content
              && gzipped
              && isNull gzProblem
              && rawContent = Array.append [| 0uy |] content
              && not rawGzipped
              && isNull rawProblem

          testCase "HasMore sees content beyond what was read, including a further member"
          <| fun () ->
              use tmp = new TempFolder()
              let p = System.IO.Path.Combine(tmp.Path, "two.gz")
              System.IO.File.WriteAllBytes(p, gzipMembers [ [| 1uy; 2uy |]; [| 3uy |] ])
              use f = DecodedFile.Open p
              let b = Array.zeroCreate<byte> 2
              Expect.equal (f.Fill(System.Span b)) 2 "first member"
              Expect.isTrue (f.HasMore()) "the second member's byte"
              Expect.isFalse (f.HasMore()) "then the end"

          testCase "the CRC-32 is the gzip one: 0xCBF43926 for the ASCII digits 1 to 9"
          <| fun () ->
              Expect.equal (Crc32.Of(System.Text.Encoding.ASCII.GetBytes "123456789")) 0xCBF43926u "check value" ]
