module Snn.Core.Tests.Data.ImageFolderIndexTests

open System.IO
open Expecto
open SkiaSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

/// A split folder with one 4x4 PNG per listed file name, in class folders.
let private split (root: string) (name: string) (classes: (string * string list) list) =
    let folder = Path.Combine(root, name)

    for cls, files in classes do
        let d = Directory.CreateDirectory(Path.Combine(folder, cls)).FullName

        for f in files do
            writeImage (Path.Combine(d, f)) 4 4 SKEncodedImageFormat.Png (fun _ _ -> SKColor(1uy, 2uy, 3uy))

    folder

[<Tests>]
let tests =
    testList
        "ImageFolderIndex"
        [ testCase "classes are the sub-folders in ordinal order and files are listed class by class in name order"
          <| fun () ->
              use tmp = new TempFolder()

              let folder =
                  split tmp.Path "train" [ "b", [ "2.png"; "10.png" ]; "B", [ "x.jpg" ]; "a", [ "z.png" ] ]

              let index = ImageFolderIndex.Build folder
              Expect.equal (List.ofSeq index.ClassNames) [ "B"; "a"; "b" ] "ordinal sort: upper case first"
              // File j of the n_k files of class k sits at (j + 1/2) / n_k: b/10 at 1/4, B/x and a/z at 1/2, b/2 at 3/4.
              Expect.equal (List.ofSeq index.Labels) [ 2; 0; 1; 2 ] "classes interleaved by position, ties by label"

              Expect.equal
                  (index.Files |> Seq.map Path.GetFileName |> List.ofSeq)
                  [ "10.png"; "x.jpg"; "z.png"; "2.png" ]
                  "files of a class in ordinal name order"

          testProperty
              "every contiguous range of the index holds each class near its share (within 1 + K n_k / N images)"
          <| fun (sizes: byte list) (startRaw: uint16) (countRaw: uint16) ->
              let sizes = sizes |> List.truncate 6 |> List.map (fun s -> 1 + int s % 7)

              sizes.IsEmpty
              || (use tmp = new TempFolder()

                  let folder =
                      split
                          tmp.Path
                          "train"
                          [ for k, n in List.indexed sizes -> $"c{k}", [ for j in 0 .. n - 1 -> $"{j}.png" ] ]

                  let index = ImageFolderIndex.Build folder
                  let total = List.sum sizes
                  let start = int startRaw % (total + 1)
                  let count = int countRaw % (total - start + 1)
                  let range = index.Labels |> Seq.skip start |> Seq.take count |> List.ofSeq

                  List.indexed sizes
                  |> List.forall (fun (k, n) ->
                      let got = range |> List.filter ((=) k) |> List.length
                      let k = float sizes.Length

                      abs (float got - float count * float n / float total)
                      <= 1.0 + k * float n / float total + 1e-9))

          testCase "splits with the same number of classes but other names are refused, listing the differences"
          <| fun () ->
              use tmp = new TempFolder()

              let train =
                  split tmp.Path "train" [ "cat", [ "a.png" ]; "dog", [ "b.png" ]; "eel", [ "c.png" ] ]

              let valid =
                  split tmp.Path "val" [ "cat", [ "a.png" ]; "doge", [ "b.png" ]; "fox", [ "c.png" ] ]

              dataError
                  (fun () -> (ImageFolderIndex.Build train).RequireSameClasses(ImageFolderIndex.Build valid))
                  valid
                  [ "expected the same class names in both splits"
                    "Only in train: dog, eel"
                    "only in val: doge, fox" ]

          testCase "the same class names in both splits are accepted"
          <| fun () ->
              use tmp = new TempFolder()

              let train =
                  split tmp.Path "train" [ "cat", [ "a.png" ]; "dog", [ "b.png"; "c.png" ] ]

              let valid = split tmp.Path "val" [ "cat", [ "q.png" ]; "dog", [ "r.png" ] ]
              (ImageFolderIndex.Build train).RequireSameClasses(ImageFolderIndex.Build valid)

          testCase "a missing split folder is named"
          <| fun () ->
              use tmp = new TempFolder()
              let missing = tmp.File "val"
              dataError (fun () -> ImageFolderIndex.Build missing) missing [ "not found"; "one sub-folder per class" ] ]
