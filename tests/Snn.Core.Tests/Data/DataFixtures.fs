/// Writers of tiny datasets in their exact on-disk formats, and temp folders, for the Data tests.
module Snn.Core.Tests.Data.DataFixtures

open System
open System.IO
open System.IO.Compression
open SkiaSharp

/// A fresh temp folder, deleted on Dispose.
type TempFolder() =
    let path =
        Path.Combine(Path.GetTempPath(), "snn-data-tests", Guid.NewGuid().ToString("N"))

    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()

let private bigEndian (v: int) =
    [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

/// The bytes of an IDX image file: magic, N, H, W, then the pixels.
let idxImages (magic: int) (n: int) (h: int) (w: int) (pixels: byte[]) =
    Array.concat [ bigEndian magic; bigEndian n; bigEndian h; bigEndian w; pixels ]

/// The bytes of an IDX label file: magic, N, then the labels.
let idxLabels (magic: int) (labels: byte[]) =
    Array.concat [ bigEndian magic; bigEndian labels.Length; labels ]

let gzip (bytes: byte[]) =
    use output = new MemoryStream()

    do
        use z = new GZipStream(output, CompressionLevel.Fastest, true)
        z.Write(bytes, 0, bytes.Length)

    output.ToArray()

/// A multi-member gzip file: each piece compressed as its own member, the members concatenated (as `cat a.gz b.gz`).
let gzipMembers (pieces: byte[] list) = pieces |> List.map gzip |> Array.concat

/// A symbolic link at folder/name to target (e.g. /dev/zero); returns the link's path.
let link (folder: string) (name: string) (target: string) =
    let path = Path.Combine(folder, name)
    File.CreateSymbolicLink(path, target) |> ignore
    path

/// Writes bytes to folder/name, gzipped (and name + ".gz") when asked; returns the path.
let write (folder: string) (name: string) (gz: bool) (bytes: byte[]) =
    let path = Path.Combine(folder, (if gz then name + ".gz" else name))
    File.WriteAllBytes(path, (if gz then gzip bytes else bytes))
    path

/// Deterministic pseudo-random bytes for a given seed.
let bytesOf (seed: int) (count: int) =
    let r = Random(seed)
    let b = Array.zeroCreate<byte> count
    r.NextBytes b
    b

/// A valid IDX folder (train and t10k) with the given counts of h x w images and labels n % 10.
let writeIdxFolder (folder: string) (gz: bool) (nTrain: int) (nTest: int) (h: int) (w: int) =
    for prefix, n in [ "train", nTrain; "t10k", nTest ] do
        let pixels = bytesOf (n * 7 + h) (n * h * w)

        write folder $"{prefix}-images-idx3-ubyte" gz (idxImages 0x803 n h w pixels)
        |> ignore

        let labels = Array.init n (fun i -> byte (i % 10))
        write folder $"{prefix}-labels-idx1-ubyte" gz (idxLabels 0x801 labels) |> ignore

/// A CIFAR record: label byte(s) then 3072 pixel bytes.
let cifarRecord (labels: byte[]) (pixels: byte[]) = Array.append labels pixels

/// Writes an image of w x h whose pixel (x, y) has colour f x y, encoded as PNG or JPEG.
let writeImage (path: string) (w: int) (h: int) (format: SKEncodedImageFormat) (f: int -> int -> SKColor) =
    use bitmap = new SKBitmap(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul)

    for y in 0 .. h - 1 do
        for x in 0 .. w - 1 do
            bitmap.SetPixel(x, y, f x y)

    use data = bitmap.Encode(format, 95)
    File.WriteAllBytes(path, data.ToArray())

/// An ImageNet-layout tree root/<split>/c<k>/<i>.png for each (split, images per class) with `classes` classes;
/// image i of class k in a split is a deterministic random-coloured w x w PNG. Returns the root.
let imageTree (root: string) (classes: int) (splits: (string * int) list) (w: int) =
    for split, perClass in splits do
        for k in 0 .. classes - 1 do
            let d = Directory.CreateDirectory(Path.Combine(root, split, $"c{k}")).FullName

            for i in 0 .. perClass - 1 do
                let r = Random(hash (split, k, i))

                let px =
                    Array.init (w * w) (fun _ -> SKColor(byte (r.Next 256), byte (r.Next 256), byte (r.Next 256)))

                writeImage (Path.Combine(d, $"{i}.png")) w w SKEncodedImageFormat.Png (fun x y -> px.[y * w + x])

    root

/// Expects a DataFileException whose FilePath is the file and whose message names it and every fragment.
let dataError (action: unit -> 'a) (file: string) (fragments: string list) =
    try
        action () |> ignore
        Expecto.Tests.failtestf "expected a DataFileException naming %s" file
    with :? Snn.Core.Data.DataFileException as e ->
        Expecto.Expect.stringContains e.Message file "the message names the file"

        for f in fragments do
            Expecto.Expect.stringContains e.Message f "the message says what was expected"

        Expecto.Expect.equal e.FilePath file "FilePath names the file"

/// An in-memory dataset of n random C x H x W images; label i is i % classes, classes "c0".."c{K-1}".
let synthetic (seed: int) (n: int) (c: int) (h: int) (w: int) (classes: int) =
    let pixels = bytesOf seed (n * c * h * w)

    let images =
        TorchSharp.torch.tensor (pixels, System.ReadOnlySpan<int64>([| int64 n; int64 c; int64 h; int64 w |]))

    let labels =
        TorchSharp.torch.tensor (Array.init n (fun i -> int64 (i % classes)), System.ReadOnlySpan<int64>([| int64 n |]))

    new Snn.Core.Data.ImageDataset("synthetic", images, labels, [ for k in 0 .. classes - 1 -> $"c{k}" ])

/// Whether two tensors have the same shape and values (the temporary result tensor is disposed).
let same (a: TorchSharp.torch.Tensor) (b: TorchSharp.torch.Tensor) =
    a.shape = b.shape
    && (use e = a.eq b
        use all = e.all ()
        all.item<bool> ())
