module Snn.Core.Tests.Data.ImageFolderReaderTests

open System.IO
open Expecto
open SkiaSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private tree (root: string) (test: string) (classes: string list) =
    for split, names in [ "train", [ "a"; "b" ]; test, classes ] do
        for cls in names do
            let d = Directory.CreateDirectory(Path.Combine(root, split, cls)).FullName

            for i in 0..1 do
                writeImage (Path.Combine(d, $"{i}.png")) 5 5 SKEncodedImageFormat.Png (fun _ _ -> SKColors.Green)

[<Tests>]
let tests =
    testList
        "ImageFolderReader"
        [ testCase "Inspect lists both splits without decoding: counts, S x S shape and class names"
          <| fun () ->
              use tmp = new TempFolder()
              tree tmp.Path "val" [ "a"; "b" ]
              // A broken image is not noticed by Inspect: nothing is decoded.
              File.WriteAllBytes(Path.Combine(tmp.Path, "val", "a", "2.png"), [| 1uy |])
              let layout = (DatasetDescriptor.ImageNet.WithImageSize 7).Inspect tmp.Path
              Expect.equal (layout.TrainImages, layout.TestImages, layout.ImageShape) (4, 5, [| 3; 7; 7 |]) "layout"
              Expect.equal (List.ofSeq layout.ClassNames) [ "a"; "b" ] "classes"

          testCase "the test split is val/ when present, else test/"
          <| fun () ->
              use tmp = new TempFolder()
              tree tmp.Path "test" [ "a"; "b" ]
              Expect.equal (ImageFolderReader.TestFolder tmp.Path) (Path.Combine(tmp.Path, "test")) "test/"

              use test =
                  DatasetDescriptor.ImageNet
                      .WithImageSize(4)
                      .Reader.Read(DatasetDescriptor.ImageNet.WithImageSize 4, tmp.Path, false)

              Expect.equal test.Count 4 "read from test/"

          testCase "splits with different class names are refused by Inspect"
          <| fun () ->
              use tmp = new TempFolder()
              tree tmp.Path "val" [ "a"; "c" ]

              dataError
                  (fun () -> DatasetDescriptor.ImageNet.Inspect tmp.Path)
                  (Path.Combine(tmp.Path, "val"))
                  [ "differ from the 2 of"; "Only in train: b"; "only in val: c" ] ]
