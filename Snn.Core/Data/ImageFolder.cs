using SkiaSharp;
using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of an image-folder tree in the ImageNet layout: &lt;split&gt;/&lt;class&gt;/*.jpg|*.jpeg|*.png. Classes are the
/// sub-folders sorted by ordinal name (label k = k-th folder); files in a class are read in ordinal name order.
/// Every image is decoded to RGB, its shorter side scaled to S with bilinear filtering and the centre S x S
/// square kept, giving uint8 [N, 3, S, S].
/// </summary>
public static class ImageFolder
{
    /// <summary>The file extensions accepted as images (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".jpg", ".jpeg", ".png"];

    /// <summary>Reads every image of a split folder.</summary>
    /// <param name="folder">A split folder whose sub-folders are the classes, each holding at least one image.</param>
    /// <param name="size">Output side S in pixels, in [1, 4096].</param>
    /// <exception cref="DataFileException">
    /// The folder is missing or has no class folders; a class folder is empty; a file that is not a class
    /// folder sits in the split folder; a class holds a file without an image extension or one that does not decode.
    /// </exception>
    public static ImageDataset Read(string folder, int size)
    {
        if (size < 1 || size > 4096)
        {
            throw new ArgumentException($"{nameof(size)} = {size} is out of range: expected [1, 4096] pixels", nameof(size));
        }

        if (!Directory.Exists(folder))
        {
            throw new DataFileException(folder, "not found: expected a folder with one sub-folder per class");
        }

        var stray = Directory.GetFiles(folder).OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault();
        if (stray is not null)
        {
            throw new DataFileException(stray, $"is a file in the split folder {folder}: expected only class sub-folders there");
        }

        var classFolders = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        if (classFolders.Length == 0)
        {
            throw new DataFileException(folder, "has no class folders: expected <class>/<image>.jpg|.jpeg|.png");
        }

        var files = new List<(string Path, int Label)>();
        for (var k = 0; k < classFolders.Length; k++)
        {
            var classFiles = Directory.GetFileSystemEntries(classFolders[k]).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (classFiles.Length == 0)
            {
                throw new DataFileException(
                    classFolders[k], $"is an empty class folder: expected at least one {string.Join("/", Extensions)} image");
            }

            foreach (var file in classFiles)
            {
                if (Directory.Exists(file) || !Extensions.Contains(Path.GetExtension(file).ToLowerInvariant()))
                {
                    throw new DataFileException(
                        file, $"is not an image file: expected only {string.Join(", ", Extensions)} files in class folder {classFolders[k]}");
                }

                files.Add((file, k));
            }
        }

        var frame = size * size * 4;
        var rgba = new byte[(long)files.Count * frame];
        var labels = new long[files.Count];
        for (var i = 0; i < files.Count; i++)
        {
            DecodeInto(files[i].Path, size, rgba.AsSpan(i * frame, frame));
            labels[i] = files[i].Label;
        }

        using var scope = NewDisposeScope();
        var images = tensor(rgba, [files.Count, size, size, 4])
            .narrow(3, 0, 3)
            .permute(0, 3, 1, 2)
            .contiguous()
            .MoveToOuterDisposeScope();
        var names = classFolders.Select(Path.GetFileName).Select(n => n!).ToArray();
        return new ImageDataset(
            "imagefolder/" + Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)),
            images,
            tensor(labels, [files.Count]).MoveToOuterDisposeScope(),
            names);
    }

    private static void DecodeInto(string path, int size, Span<byte> target)
    {
        using var image = SKImage.FromEncodedData(path)
            ?? throw new DataFileException(path, "could not be decoded: expected a valid JPEG or PNG image");
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

        bitmap.GetPixelSpan().CopyTo(target);
    }
}
