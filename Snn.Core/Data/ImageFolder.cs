using System.Globalization;
using SkiaSharp;
using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of an image-folder tree in the ImageNet layout: &lt;split&gt;/&lt;class&gt;/*.jpg|*.jpeg|*.png (see
/// <see cref="ImageFolderIndex"/>). Every image is decoded to RGB, its shorter side scaled to S with bilinear
/// filtering and the centre S x S square kept, giving uint8 [3, S, S] per image.
/// </summary>
public static class ImageFolder
{
    /// <summary>The largest encoded image file accepted, in bytes (256 MiB).</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>The largest decoded image accepted, in pixels (width x height = 100 megapixels, 400 MB as RGBA).</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>The file extensions accepted as images (case-insensitive).</summary>
    public static IReadOnlyList<string> Extensions => ImageFolderIndex.Extensions;

    /// <summary>Reads every image of a split folder into memory.</summary>
    /// <param name="folder">A split folder whose sub-folders are the classes, each holding at least one image.</param>
    /// <param name="size">Output side S in pixels, in [1, 4096].</param>
    /// <exception cref="DataFileException">
    /// The layout is wrong (see <see cref="ImageFolderIndex.Build"/>), or an image does not decode or is too large.
    /// </exception>
    public static ImageDataset Read(string folder, int size)
    {
        CheckSize(size);
        return Read(ImageFolderIndex.Build(folder), size);
    }

    /// <summary>Reads every image of an indexed split into memory, decoding on all cores straight into the dataset's tensor.</summary>
    /// <param name="index">The split's files and labels.</param>
    /// <param name="size">Output side S in pixels, in [1, 4096].</param>
    public static ImageDataset Read(ImageFolderIndex index, int size)
    {
        ArgumentNullException.ThrowIfNull(index);
        CheckSize(size);
        var labels = index.Labels.Select(l => (long)l).ToArray();
        return new ImageDataset(
            "imagefolder/" + Path.GetFileName(Path.TrimEndingDirectorySeparator(index.Folder)),
            Decode(index.Files, size),
            tensor(labels, [index.Count]),
            index.ClassNames);
    }

    /// <summary>
    /// Decodes image files on all cores straight into a new uint8 tensor [N, 3, S, S] (image i from file i).
    /// When several fail, the failure of the lowest index is thrown, so the error is the same on every run.
    /// </summary>
    /// <param name="files">The image files.</param>
    /// <param name="size">Output side S in pixels, in [1, 4096].</param>
    public static Tensor Decode(IReadOnlyList<string> files, int size)
    {
        ArgumentNullException.ThrowIfNull(files);
        CheckSize(size);
        var frame = 3L * size * size;
        var images = empty([files.Count, 3, size, size], ScalarType.Byte);
        try
        {
            if (files.Count > 0)
            {
                var pixels = Address(images);
                DecodeAll(files.Count, i => DecodeInto(files[i], size, Frame(pixels, i * frame, (int)frame)));
            }

            return images;
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Decodes one image file into <paramref name="target"/> as channel-first RGB [3, S, S]: the shorter side
    /// scaled to S (bilinear), the centre S x S square kept.
    /// </summary>
    /// <param name="path">A JPEG or PNG file of at most <see cref="MaxFileBytes"/> bytes and <see cref="MaxPixels"/> pixels.</param>
    /// <param name="size">Output side S in pixels, in [1, 4096].</param>
    /// <param name="target">3 x S x S bytes to write.</param>
    /// <exception cref="DataFileException">The file does not decode, or is too large.</exception>
    public static void DecodeInto(string path, int size, Span<byte> target)
    {
        if (target.Length != 3 * size * size)
        {
            throw new ArgumentException($"{nameof(target)} has {target.Length} bytes: expected 3 x {size} x {size}", nameof(target));
        }

        using var data = SKData.CreateCopy(DataFiles.ReadAllBytes(path, MaxFileBytes, "an image file"));
        using var image = SKImage.FromEncodedData(data)
            ?? throw new DataFileException(path, "could not be decoded: expected a valid JPEG or PNG image");
        if ((long)image.Width * image.Height > MaxPixels)
        {
            throw new DataFileException(
                path, string.Create(CultureInfo.InvariantCulture, $"is an image of {image.Width}x{image.Height} pixels: expected at most {MaxPixels:N0} pixels (decoding it would need {4L * image.Width * image.Height:N0} bytes)"));
        }

        var scale = (float)size / Math.Min(image.Width, image.Height);
        var srcW = size / scale;
        var srcH = size / scale;
        var source = SKRect.Create((image.Width - srcW) / 2, (image.Height - srcH) / 2, srcW, srcH);
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Black);
            canvas.DrawImage(image, source, SKRect.Create(0, 0, size, size), new SKSamplingOptions(SKFilterMode.Linear));
        }

        var rgba = bitmap.GetPixelSpan();
        var plane = size * size;
        for (var p = 0; p < plane; p++)
        {
            target[p] = rgba[4 * p];
            target[plane + p] = rgba[(4 * p) + 1];
            target[(2 * plane) + p] = rgba[(4 * p) + 2];
        }
    }

    /// <summary>
    /// Runs <paramref name="decode"/> for every index on all cores; when images fail, the failure of the lowest
    /// index is thrown (Break lets every lower index finish), so the error is the same on every run.
    /// </summary>
    private static void DecodeAll(int count, Action<int> decode)
    {
        var gate = new object();
        (int Index, Exception Error)? first = null;
        Parallel.For(0, count, (i, state) =>
        {
            try
            {
                decode(i);
            }
            catch (Exception e) when (e is DataFileException or IOException)
            {
                lock (gate)
                {
                    if (first is null || i < first.Value.Index)
                    {
                        first = (i, e);
                    }
                }

                state.Break();
            }
        });

        if (first is { } f)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(f.Error).Throw();
        }
    }

    private static unsafe IntPtr Address(Tensor images) => (IntPtr)TensorMemory.Base(images);

    private static unsafe Span<byte> Frame(IntPtr pixels, long offset, int length) => new((byte*)pixels + offset, length);

    private static void CheckSize(int size)
    {
        if (size < 1 || size > 4096)
        {
            throw new ArgumentException($"{nameof(size)} = {size} is out of range: expected [1, 4096] pixels", nameof(size));
        }
    }
}
