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
              Expect.equal (List.ofSeq index.Labels) [ 0; 1; 2; 2 ] "labels by folder position"

              Expect.equal
                  (index.Files |> Seq.map Path.GetFileName |> List.ofSeq)
                  [ "x.jpg"; "z.png"; "10.png"; "2.png" ]
                  "files in ordinal name order"

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
