module Snn.Core.Tests.Data.DatasetIdentityTests

open System
open System.IO
open System.Security.Cryptography
open Expecto
open SkiaSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

/// An image folder root with train/ and val/, two classes, one PNG each.
let private imageTree (root: string) =
    for split in [ "train"; "val" ] do
        for cls in [ "a"; "b" ] do
            let d = Directory.CreateDirectory(Path.Combine(root, split, cls)).FullName
            writeImage (Path.Combine(d, "0.png")) 3 3 SKEncodedImageFormat.Png (fun _ _ -> SKColors.Blue)

[<Tests>]
let tests =
    testList
        "DatasetIdentity"
        [ testCase "an IDX folder's identity lists each file with its size and SHA-256"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 6 2 2 2
              let id = DatasetDescriptor.FashionMnist.Identify tmp.Path
              Expect.equal id.Method DatasetIdentity.ContentMethod "content"
              Expect.equal id.Dataset "fashion-mnist" "key"

              Expect.equal
                  (id.Entries |> Seq.map _.RelativePath |> List.ofSeq)
                  (Idx.FileNames |> Seq.map (fun f -> f + ".gz") |> List.ofSeq)
                  "relative paths"

              let first = id.Entries.[0]
              let bytes = File.ReadAllBytes(tmp.File first.RelativePath)
              Expect.equal first.Bytes (int64 bytes.Length) "size"
              Expect.equal first.Sha256 (Convert.ToHexStringLower(SHA256.HashData bytes)) "SHA-256 of the stored bytes"
              Expect.equal id.Digest.Length 64 "hex digest"

          testCase "the digest depends on the content, not on the folder"
          <| fun () ->
              use a = new TempFolder()
              use b = new TempFolder()
              writeIdxFolder a.Path false 6 2 2 2
              writeIdxFolder b.Path false 6 2 2 2
              let ia = DatasetDescriptor.Mnist.Identify a.Path
              let ib = DatasetDescriptor.Mnist.Identify b.Path
              Expect.equal ia.Digest ib.Digest "same files elsewhere"
              Expect.isEmpty (ia.Differences ib) "no differences"
              Expect.notEqual ia.Digest (DatasetDescriptor.FashionMnist.Identify a.Path).Digest "another dataset key"

          testCase "one changed byte changes the digest and the differences name the file"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 6 2 2 2
              let before = DatasetDescriptor.Mnist.Identify tmp.Path
              let p = tmp.File "t10k-labels-idx1-ubyte"
              let bytes = File.ReadAllBytes p
              bytes.[bytes.Length - 1] <- bytes.[bytes.Length - 1] ^^^ 1uy
              File.WriteAllBytes(p, bytes)
              let after = DatasetDescriptor.Mnist.Identify tmp.Path
              Expect.notEqual after.Digest before.Digest "digest"
              let diffs = after.Differences before
              Expect.equal diffs.Count 1 "one file differs"
              Expect.stringContains diffs.[0] "t10k-labels-idx1-ubyte: 1 files, 10 bytes" "names the file"

          testCase "a CIFAR folder's identity covers the batches and the class-name file"
          <| fun () ->
              use tmp = new TempFolder()

              for f in Seq.append Cifar.Cifar10TrainFiles [ Cifar.Cifar10TestFile ] do
                  File.WriteAllBytes(tmp.File f, Array.zeroCreate 3073)

              let without = DatasetDescriptor.Cifar10.Identify tmp.Path
              Expect.equal without.Entries.Count 6 "six batches"
              File.WriteAllLines(tmp.File "batches.meta.txt", [ for i in 0..9 -> $"n{i}" ])
              let named = DatasetDescriptor.Cifar10.Identify tmp.Path
              Expect.equal named.Entries.[6].RelativePath "batches.meta.txt" "names file"

          testCase "an image folder's identity hashes each split's listing: a touched file changes it, reading nothing"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path
              let d = DatasetDescriptor.ImageNet.WithImageSize 8
              let before = d.Identify tmp.Path
              Expect.equal before.Method DatasetIdentity.ListingMethod "listing"

              Expect.equal
                  (before.Entries |> Seq.map (fun e -> e.RelativePath, e.Files) |> List.ofSeq)
                  [ "train", 2L; "val", 2L ]
                  "splits"

              Expect.equal (d.Identify tmp.Path).Digest before.Digest "stable"

              File.SetLastWriteTimeUtc(
                  Path.Combine(tmp.Path, "val", "b", "0.png"),
                  DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc)
              )

              let after = d.Identify tmp.Path
              Expect.notEqual after.Digest before.Digest "touched"

              Expect.equal
                  (after.Differences before |> Seq.map (fun s -> s.Split(':').[0]) |> List.ofSeq)
                  [ "val" ]
                  "names the split"

              Expect.notEqual
                  (DatasetDescriptor.ImageNet.Identify tmp.Path).Digest
                  before.Digest
                  "image size is part of the key"

          testCase "the real Fashion-MNIST identity is computed from its four gzip files"
          <| fun () ->
              let id =
                  DatasetDescriptor.FashionMnist.Identify DatasetLocator.DebianFashionMnistFolder

              Expect.equal id.Entries.Count 4 "four files"
              Expect.isTrue (id.Entries |> Seq.forall (fun e -> e.Bytes > 0L && e.Sha256.Length = 64)) "hashed" ]
