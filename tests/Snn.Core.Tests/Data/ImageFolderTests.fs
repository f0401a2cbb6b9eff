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

/// CRC-32 of PNG chunks (the gzip polynomial).
let private crc32 (bytes: byte[]) =
    let mutable c = 0xFFFFFFFFu

    for b in bytes do
        c <- c ^^^ uint32 b

        for _ in 0..7 do
            c <-
                if c &&& 1u <> 0u then
                    0xEDB88320u ^^^ (c >>> 1)
                else
                    c >>> 1

    c ^^^ 0xFFFFFFFFu

/// A PNG whose header declares w x h RGBA pixels, with one empty compressed block of data (it never decodes fully).
let private hugePng (w: int) (h: int) =
    let be (v: uint32) =
        [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

    let chunk (kind: string) (data: byte[]) =
        let body = Array.append (System.Text.Encoding.ASCII.GetBytes kind) data
        Array.concat [ be (uint32 data.Length); body; be (crc32 body) ]

    let ihdr =
        Array.concat [ be (uint32 w); be (uint32 h); [| 8uy; 6uy; 0uy; 0uy; 0uy |] ]

    Array.concat
        [ [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]
          chunk "IHDR" ihdr
          chunk "IDAT" [| 0x78uy; 0x9Cuy; 0x03uy; 0x00uy; 0x00uy; 0x00uy; 0x00uy; 0x01uy |]
          chunk "IEND" [||] ]

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
              // Classes interleaved: cat/a.png at 1/4, dog/c.jpg at 1/2, cat/b.png at 3/4 of the split.
              Expect.equal (ds.Labels.data<int64>().ToArray()) [| 0L; 1L; 0L |] "labels by folder"
              let red = ds.Images.[0L].contiguous().data<byte>().ToArray()
              Expect.isTrue (red.[0..63] |> Array.forall ((=) 255uy)) "red channel of the red PNG is 255"
              Expect.isTrue (red.[64..] |> Array.forall ((=) 0uy)) "green and blue of the red PNG are 0"

              let grey = ds.Images.[1L].contiguous().data<byte>().ToArray() |> Array.map int

              Expect.isTrue (grey |> Array.forall (fun v -> abs (v - 128) <= 3)) "JPEG grey 128 within 3 levels"

          testCase "a wide image is scaled by its shorter side and centre-cropped"
          <| fun () ->
              use tmp = new TempFolder()
              writeTree tmp.Path |> ignore
              use ds = ImageFolder.Read(tmp.Path, 8)
              let wide = ds.Images.[2L].contiguous().data<byte>().ToArray()
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
                  Expect.stringContains e.Message "size = 0 is out of range: expected [1, 4096]" "message")

          testCase "when several images fail to decode, the first in index order is reported on every run"
          <| fun () ->
              use tmp = new TempFolder()
              let cat, dog = writeTree tmp.Path

              for i in 0..40 do
                  writeImage (Path.Combine(cat, $"z{i:D2}.png")) 6 6 SKEncodedImageFormat.Png (solid SKColors.White)

              File.WriteAllBytes(Path.Combine(cat, "y-broken.png"), bytesOf 1 64)
              File.WriteAllBytes(Path.Combine(dog, "d-broken.png"), bytesOf 2 64)

              for _ in 1..5 do
                  dataError
                      (fun () -> ImageFolder.Read(tmp.Path, 4))
                      (Path.Combine(cat, "y-broken.png"))
                      [ "could not be decoded" ]

          testCase "an image whose header declares more than 100 megapixels is refused before decoding"
          <| fun () ->
              use tmp = new TempFolder()
              let cat, _ = writeTree tmp.Path
              let p = Path.Combine(cat, "huge.png")
              File.WriteAllBytes(p, hugePng 20000 20000)

              dataError
                  (fun () -> ImageFolder.Read(tmp.Path, 4))
                  p
                  [ "20000x20000 pixels"; "at most 100,000,000 pixels" ]

          testCase "decoded pixels are stored channel-first: plane c holds channel c of every pixel"
          <| fun () ->
              use tmp = new TempFolder()
              let d = Directory.CreateDirectory(Path.Combine(tmp.Path, "only")).FullName

              writeImage (Path.Combine(d, "g.png")) 3 3 SKEncodedImageFormat.Png (fun x y ->
                  SKColor(byte (10 * x + y), byte (100 + x), byte (200 + y)))

              use ds = ImageFolder.Read(tmp.Path, 3)
              let px = ds.Images.[0L].contiguous().data<byte>().ToArray() |> Array.map int

              let expected =
                  [| for c in 0..2 do
                         for y in 0..2 do
                             for x in 0..2 ->
                                 match c with
                                 | 0 -> 10 * x + y
                                 | 1 -> 100 + x
                                 | _ -> 200 + y |]

              Expect.equal px expected "R, G and B planes" ]
