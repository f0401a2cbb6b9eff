// Writes a synthetic image folder in the ImageNet layout, for tests and benchmarks of the streaming reader
// and the 224x224 path: <out>/train/<class>/<class>_<i>.JPEG and <out>/val/<class>/<class>_val_<i>.JPEG,
// SIZE x SIZE JPEGs (quality 90) in CLASSES class folders named like ImageNet's synsets (n00000000, ...).
// Every image is a deterministic function of (class, split, index): a colour gradient whose hue depends on
// the class, plus seeded noise, so the folder is the same on every machine. The images carry no meaning.
//
//   dotnet fsi scripts/make-synthetic-imagenet.fsx [OUT] [CLASSES] [TRAIN_PER_CLASS] [VAL_PER_CLASS] [SIZE]
//   defaults: runs/synthetic-imagenet 1000 3 1 224  (3,000 training and 1,000 validation images, ~60 MB)
//
// Needs the Release build (scripts/setup.sh) for SkiaSharp. Nothing is downloaded; do not commit the output.
#r "../Snn.Cli/bin/Release/net10.0/SkiaSharp.dll"

open System
open System.IO
open System.Runtime.InteropServices
open SkiaSharp

let args = fsi.CommandLineArgs |> Array.skip 1

let arg i (fallback: string) =
    if args.Length > i then args.[i] else fallback

let out = arg 0 "runs/synthetic-imagenet"
let classes = int (arg 1 "1000")
let trainPerClass = int (arg 2 "3")
let valPerClass = int (arg 3 "1")
let size = int (arg 4 "224")

// fsi does not probe runtimes/<rid>/native, so point SkiaSharp's P/Invokes at the build's native library.
let native =
    Path.Combine(__SOURCE_DIRECTORY__, "../Snn.Cli/bin/Release/net10.0/runtimes/linux-x64/native/libSkiaSharp.so")

NativeLibrary.SetDllImportResolver(
    typeof<SKImage>.Assembly,
    DllImportResolver(fun name _ _ ->
        if name.Contains "SkiaSharp" && File.Exists native then
            NativeLibrary.Load native
        else
            IntPtr.Zero)
)

/// The image of (class k, split s, index i): a gradient of the class's hue with seeded noise.
let image (k: int) (split: int) (i: int) =
    let random = Random(((k * 7919) + split) * 104729 + i)
    let hue = float32 (k % 360)
    use bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Premul)
    let pixels: byte[] = Array.zeroCreate (size * size * 4)

    for y in 0 .. size - 1 do
        for x in 0 .. size - 1 do
            let c =
                SKColor.FromHsv(hue, 40.0f + 60.0f * float32 x / float32 size, 30.0f + 70.0f * float32 y / float32 size)

            let n = random.Next(-24, 25)
            let p = 4 * (y * size + x)
            pixels.[p] <- byte (Math.Clamp(int c.Red + n, 0, 255))
            pixels.[p + 1] <- byte (Math.Clamp(int c.Green + n, 0, 255))
            pixels.[p + 2] <- byte (Math.Clamp(int c.Blue + n, 0, 255))
            pixels.[p + 3] <- 255uy

    Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length)
    use data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90)
    data.ToArray()

let watch = Diagnostics.Stopwatch.StartNew()
let mutable bytes = 0L

for split, name, perClass, suffix in [ 0, "train", trainPerClass, ""; 1, "val", valPerClass, "_val" ] do
    Threading.Tasks.Parallel.For(
        0,
        classes,
        fun k ->
            let synset = $"n{k:D8}"
            let folder = Directory.CreateDirectory(Path.Combine(out, name, synset)).FullName

            for i in 0 .. perClass - 1 do
                let jpeg = image k split i
                File.WriteAllBytes(Path.Combine(folder, $"{synset}{suffix}_{i}.JPEG"), jpeg)
                Threading.Interlocked.Add(&bytes, int64 jpeg.Length) |> ignore
    )
    |> ignore

printfn
    "wrote %d training and %d validation images of %dx%d in %d classes to %s (%.1f MB) in %.1f s"
    (classes * trainPerClass)
    (classes * valPerClass)
    size
    size
    classes
    out
    (float bytes / 1048576.0)
    watch.Elapsed.TotalSeconds
