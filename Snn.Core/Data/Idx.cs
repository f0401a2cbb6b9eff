using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of the IDX format of MNIST and Fashion-MNIST, raw or gzipped. An IDX file is a big-endian header
/// (magic 0x00000803 for images, 0x00000801 for labels; then one int32 per dimension) followed by unsigned
/// bytes: images are N x H x W pixels 0..255 row by row, labels are N bytes.
/// </summary>
public static class Idx
{
    /// <summary>The magic number of an IDX file of unsigned-byte 3-D data (images N x H x W).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>The magic number of an IDX file of unsigned-byte 1-D data (labels N).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>The Fashion-MNIST class names, indexed by label 0..9.</summary>
    public static readonly IReadOnlyList<string> FashionMnistClasses =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>The MNIST class names, the digits "0".."9".</summary>
    public static readonly IReadOnlyList<string> MnistClasses = [.. Enumerable.Range(0, 10).Select(i => i.ToString())];

    /// <summary>The four file names of an IDX dataset folder (each may also end in .gz).</summary>
    public static readonly IReadOnlyList<string> FileNames =
    [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ];

    /// <summary>Reads an IDX image file into uint8 [N, 1, H, W].</summary>
    /// <param name="path">An IDX file with magic 0x00000803, raw or gzipped, of exactly 16 + N*H*W bytes.</param>
    /// <exception cref="DataFileException">Wrong magic, truncated or over-long file, or a broken gzip stream.</exception>
    public static Tensor ReadImages(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path);
        var dims = ReadHeader(path, bytes, ImagesMagic, 3, "images (N x H x W unsigned bytes)");
        var (n, h, w) = (dims[0], dims[1], dims[2]);
        CheckLength(path, bytes.Length, 16, (long)n * h * w, $"{n} images of {h}x{w}");
        return tensor(bytes.AsSpan(16).ToArray(), [n, 1, h, w]);
    }

    /// <summary>Reads an IDX label file into int64 [N].</summary>
    /// <param name="path">An IDX file with magic 0x00000801, raw or gzipped, of exactly 8 + N bytes.</param>
    /// <exception cref="DataFileException">Wrong magic, truncated or over-long file, or a broken gzip stream.</exception>
    public static Tensor ReadLabels(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path);
        var dims = ReadHeader(path, bytes, LabelsMagic, 1, "labels (N unsigned bytes)");
        CheckLength(path, bytes.Length, 8, dims[0], $"{dims[0]} labels");
        using var raw = tensor(bytes.AsSpan(8).ToArray(), [dims[0]]);
        return raw.to_type(ScalarType.Int64);
    }

    /// <summary>
    /// Reads the training ("train-") or test ("t10k-") images and labels of an IDX folder into a dataset
    /// with 10 classes.
    /// </summary>
    /// <param name="folder">A folder holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...</param>
    /// <param name="train">true for the "train-" files, false for the "t10k-" (test) files.</param>
    /// <param name="kind"><see cref="DatasetKind.FashionMnist"/> or <see cref="DatasetKind.Mnist"/> (class names, dataset name).</param>
    /// <exception cref="DataFileException">A missing or malformed file, an image/label count mismatch, or a label outside 0..9.</exception>
    public static ImageDataset Read(string folder, bool train, DatasetKind kind = DatasetKind.FashionMnist)
    {
        if (kind is not (DatasetKind.FashionMnist or DatasetKind.Mnist))
        {
            throw new ArgumentException($"{nameof(kind)} = {kind} is out of range: expected FashionMnist or Mnist", nameof(kind));
        }

        var prefix = train ? "train" : "t10k";
        var imagesPath = DataFiles.Require(folder, $"{prefix}-images-idx3-ubyte");
        var labelsPath = DataFiles.Require(folder, $"{prefix}-labels-idx1-ubyte");
        var classes = kind == DatasetKind.FashionMnist ? FashionMnistClasses : MnistClasses;
        var images = ReadImages(imagesPath);
        Tensor labels;
        try
        {
            labels = ReadLabels(labelsPath);
        }
        catch
        {
            images.Dispose();
            throw;
        }

        try
        {
            if (labels.shape[0] != images.shape[0])
            {
                throw new DataFileException(
                    labelsPath,
                    $"holds {labels.shape[0]} labels but {imagesPath} holds {images.shape[0]} images: expected one label per image");
            }

            CheckLabelRange(labelsPath, labels, classes.Count);
            var name = (kind == DatasetKind.FashionMnist ? "fashion-mnist/" : "mnist/") + (train ? "train" : "test");
            return new ImageDataset(name, images, labels, classes);
        }
        catch
        {
            images.Dispose();
            labels.Dispose();
            throw;
        }
    }

    /// <summary>Throws a <see cref="DataFileException"/> naming the file when a label is outside [0, classes).</summary>
    internal static void CheckLabelRange(string path, Tensor labels, int classes)
    {
        if (labels.numel() == 0)
        {
            return;
        }

        using var max = labels.max();
        var hi = max.item<long>();
        if (hi >= classes)
        {
            using var bad = labels.ge(classes).nonzero();
            var index = bad[0, 0].item<long>();
            throw new DataFileException(path, $"label {hi} (first out-of-range label at record {index}) is outside 0..{classes - 1}");
        }
    }

    private static int[] ReadHeader(string path, byte[] bytes, int magic, int rank, string what)
    {
        var headerLength = 4 + (4 * rank);
        if (bytes.Length < headerLength)
        {
            throw new DataFileException(
                path,
                $"is truncated: {bytes.Length} bytes, expected at least a {headerLength}-byte IDX header for {what}");
        }

        var found = ReadInt32BigEndian(bytes, 0);
        if (found != magic)
        {
            throw new DataFileException(
                path,
                $"has magic number 0x{found:X8}, expected 0x{magic:X8} (IDX {what})");
        }

        var dims = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            dims[i] = ReadInt32BigEndian(bytes, 4 + (4 * i));
            if (dims[i] < 0 || (i > 0 && dims[i] == 0))
            {
                throw new DataFileException(path, $"has dimension {i} = {dims[i]} in its IDX header, expected > 0");
            }
        }

        return dims;
    }

    private static void CheckLength(string path, long length, long header, long payload, string what)
    {
        var expected = header + payload;
        if (length < expected)
        {
            throw new DataFileException(
                path,
                $"is truncated: {length} bytes, expected {expected} ({header}-byte header + {what})");
        }

        if (length > expected)
        {
            throw new DataFileException(
                path,
                $"is too long: {length} bytes, expected {expected} ({header}-byte header + {what}); {length - expected} bytes would be ignored");
        }
    }

    private static int ReadInt32BigEndian(byte[] bytes, int offset) =>
        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset, 4));
}
