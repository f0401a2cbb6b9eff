module Snn.Core.Tests.Data.ImageFolderTests

open System.IO
open Expecto
open SkiaSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private solid (c: SKColor) = fun (_: int) (_: int) -> c

/// train/cat: two PNGs (red, then a 16x8 blue|green|blue image), train/dog: one JPEG of grey 128.
let private writeTree (root: string) =
    let cat = Directory.CreateDirectory(Path.Combine(root, "cat")).FullName
    let dog = Directory.CreateDirectory(Path.Combine(root, "dog")).FullName
    writeImage (Path.Combine(cat, "a.png")) 8 8 SKEncodedImageFormat.Png (solid (SKColor(255uy, 0uy, 0uy)))

    writeImage (Path.Combine(cat, "b.png")) 16 8 SKEncodedImageFormat.Png (fun x _ ->
        if x < 4 || x >= 12 then
            SKColor(0uy, 0uy, 255uy)
        else
            SKColor(0uy, 255uy, 0uy))

    writeImage (Path.Combine(dog, "c.jpg")) 8 8 SKEncodedImageFormat.Jpeg (solid (SKColor(128uy, 128uy, 128uy)))
    cat, dog

[<Tests>]
let tests =
    testList
        "ImageFolder"
        [ testCase "class folders sorted by name give labels; images decode to uint8 RGB [N, 3, S, S]"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              use ds = ImageFolder.Read(tmp.Path, 8)
              Expect.equal ds.Images.shape [| 3L; 3L; 8L; 8L |] "shape"
              Expect.equal (List.ofSeq ds.ClassNames) [ "cat"; "dog" ] "sorted class names"
              Expect.equal (ds.Labels.data<int64>().ToArray()) [| 0L; 0L; 1L |] "labels by folder"
              let red = ds.Images.[0L].contiguous().data<byte>().ToArray()
              Expect.isTrue (red.[0..63] |> Array.forall ((=) 255uy)) "red channel of the red PNG is 255"
              Expect.isTrue (red.[64..] |> Array.forall ((=) 0uy)) "green and blue of the red PNG are 0"

              let grey = ds.Images.[2L].contiguous().data<byte>().ToArray() |> Array.map int

              Expect.isTrue (grey |> Array.forall (fun v -> abs (v - 128) <= 3)) "JPEG grey 128 within 3 levels"

          testCase "a wide image is scaled by its shorter side and centre-cropped"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              use ds = ImageFolder.Read(tmp.Path, 8)
              let wide = ds.Images.[1L].contiguous().data<byte>().ToArray()
              Expect.isTrue (wide.[64..127] |> Array.forall ((=) 255uy)) "only the green centre remains"
              Expect.isTrue (Array.append wide.[0..63] wide.[128..] |> Array.forall ((=) 0uy)) "no blue border"

          testCase "images are resized to the requested side"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              use ds = ImageFolder.Read(tmp.Path, 4)
              Expect.equal ds.Images.shape [| 3L; 3L; 4L; 4L |] "4x4"

          testCase "an empty class folder is named"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              let empty = Directory.CreateDirectory(tmp.File "eel").FullName
              dataError (fun () -> ImageFolder.Read(tmp.Path, 8)) empty [ "empty class folder"; ".jpg" ]

          testCase "a non-image file in a class folder is named"
          <| fun () ->
              use tmp = new TempFolder()
              let _, dog = writeTree tmp.Path
              let notes = Path.Combine(dog, "notes.txt")
              File.WriteAllText(notes, "not an image")
              dataError (fun () -> ImageFolder.Read(tmp.Path, 8)) notes [ "is not an image file"; ".png" ]

          testCase "a .png that does not decode is named"
          <| fun () ->
              use tmp = new TempFolder()
              let cat, _ = writeTree tmp.Path
              let broken = Path.Combine(cat, "broken.png")
              File.WriteAllBytes(broken, bytesOf 5 100)
              dataError (fun () -> ImageFolder.Read(tmp.Path, 8)) broken [ "could not be decoded"; "JPEG or PNG" ]

          testCase "a stray file beside the class folders is named"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              let stray = tmp.File "labels.csv"
              File.WriteAllText(stray, "x")
              dataError (fun () -> ImageFolder.Read(tmp.Path, 8)) stray [ "only class sub-folders" ]

          testCase "a split folder without class folders is refused"
          <| fun () ->
              use tmp = new TempFolder()
              dataError (fun () -> ImageFolder.Read(tmp.Path, 8)) tmp.Path [ "has no class folders" ]

          testCase "an image side of 0 is an argument error naming the range"
          <| fun () ->
              Expect.throwsC (fun () -> ImageFolder.Read("/nonexistent", 0) |> ignore) (fun e ->
                  Expect.stringContains e.Message "size = 0 is out of range: expected [1, 4096]" "message") ]
