using System.Buffers.Binary;
using System.Globalization;
using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of the IDX format of MNIST and Fashion-MNIST, raw or gzipped. An IDX file is a big-endian header
/// (magic 0x00000803 for images, 0x00000801 for labels; then one int32 per dimension) followed by unsigned
/// bytes: images are N x H x W pixels 0..255 row by row, labels are N bytes. A file is decompressed only up to
/// the size its header declares: more data is refused, not read.
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

    private const string ImagesWhat = "images (N x H x W unsigned bytes)";
    private const string LabelsWhat = "labels (N unsigned bytes)";

    /// <summary>The largest expansion of deflate: 1032 output bytes per input byte (zlib's technical note).</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads an IDX image file into uint8 [N, 1, H, W].</summary>
    /// <param name="path">An IDX file with magic 0x00000803, raw or gzipped, of exactly 16 + N*H*W (decompressed) bytes.</param>
    /// <exception cref="DataFileException">
    /// Wrong magic, truncated or over-long content, a broken or incomplete gzip stream, or not a regular file.
    /// </exception>
    public static Tensor ReadImages(string path)
    {
        using var file = DecodedFile.Open(path);
        var (header, dims) = ReadHeader(file, ImagesMagic, 3, ImagesWhat);
        var (n, h, w) = (dims[0], dims[1], dims[2]);
        return ReadPayload(file, header, [n, 1, h, w], $"{n} images of {h}x{w}");
    }

    /// <summary>Reads an IDX label file into int64 [N].</summary>
    /// <param name="path">An IDX file with magic 0x00000801, raw or gzipped, of exactly 8 + N (decompressed) bytes.</param>
    /// <exception cref="DataFileException">
    /// Wrong magic, truncated or over-long content, a broken or incomplete gzip stream, or not a regular file.
    /// </exception>
    public static Tensor ReadLabels(string path)
    {
        using var file = DecodedFile.Open(path);
        var (header, dims) = ReadHeader(file, LabelsMagic, 1, LabelsWhat);
        using var raw = ReadPayload(file, header, [dims[0]], $"{dims[0]} labels");
        return raw.to_type(ScalarType.Int64);
    }

    /// <summary>
    /// The header of an IDX file: its dimensions (N, H, W for images; N for labels), after checking the magic.
    /// Reads (and decompresses) only the header bytes.
    /// </summary>
    /// <param name="path">An IDX image or label file, raw or gzipped.</param>
    /// <param name="images">true for an image file (magic 0x00000803), false for a label file (0x00000801).</param>
    /// <exception cref="DataFileException">Wrong magic, a header cut short, a dimension out of range.</exception>
    public static int[] ReadDimensions(string path, bool images)
    {
        using var file = DecodedFile.Open(path);
        return images ? ReadHeader(file, ImagesMagic, 3, ImagesWhat).Dims : ReadHeader(file, LabelsMagic, 1, LabelsWhat).Dims;
    }

    /// <summary>
    /// Reads the training ("train-") or test ("t10k-") images and labels of an IDX folder into a dataset.
    /// </summary>
    /// <param name="folder">A folder holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...</param>
    /// <param name="train">true for the "train-" files, false for the "t10k-" (test) files.</param>
    /// <param name="classNames">The class names K &gt;= 1 (labels must lie in [0, K)), e.g. <see cref="FashionMnistClasses"/>.</param>
    /// <param name="name">The dataset's name, e.g. "fashion-mnist/train".</param>
    /// <exception cref="DataFileException">A missing or malformed file, an image/label count mismatch, or a label outside [0, K).</exception>
    public static ImageDataset Read(string folder, bool train, IReadOnlyList<string> classNames, string name)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var (imagesPath, labelsPath) = Paths(folder, train);
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
            CheckCounts(imagesPath, images.shape[0], labelsPath, labels.shape[0]);
            CheckLabelRange(labelsPath, labels, classNames.Count);
            return new ImageDataset(name, images, labels, classNames);
        }
        catch
        {
            images.Dispose();
            labels.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The image count and shape of the training or test files of an IDX folder, from the headers only:
    /// (N, H, W), after checking that the label file holds N labels.
    /// </summary>
    /// <param name="folder">An IDX folder.</param>
    /// <param name="train">true for the "train-" files, false for the "t10k-" files.</param>
    /// <exception cref="DataFileException">A missing file, a malformed header, or an image/label count mismatch.</exception>
    public static (int Count, int Height, int Width) Inspect(string folder, bool train)
    {
        var (imagesPath, labelsPath) = Paths(folder, train);
        var dims = ReadDimensions(imagesPath, images: true);
        CheckCounts(imagesPath, dims[0], labelsPath, ReadDimensions(labelsPath, images: false)[0]);
        return (dims[0], dims[1], dims[2]);
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

    private static (string Images, string Labels) Paths(string folder, bool train)
    {
        var prefix = train ? "train" : "t10k";
        return (DataFiles.Require(folder, $"{prefix}-images-idx3-ubyte"), DataFiles.Require(folder, $"{prefix}-labels-idx1-ubyte"));
    }

    private static void CheckCounts(string imagesPath, long images, string labelsPath, long labels)
    {
        if (labels != images)
        {
            throw new DataFileException(
                labelsPath,
                $"holds {labels} labels but {imagesPath} holds {images} images: expected one label per image");
        }
    }

    private static (byte[] Header, int[] Dims) ReadHeader(DecodedFile file, int magic, int rank, string what)
    {
        var header = new byte[4 + (4 * rank)];
        var got = file.Fill(header);
        if (got < header.Length)
        {
            throw new DataFileException(
                file.Path,
                $"is truncated: {got} bytes{Decompressed(file)}, expected at least a {header.Length}-byte IDX header for {what}");
        }

        var found = BinaryPrimitives.ReadInt32BigEndian(header);
        if (found != magic)
        {
            throw new DataFileException(file.Path, $"has magic number 0x{found:X8}, expected 0x{magic:X8} (IDX {what})");
        }

        var dims = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + (4 * i)));
            if (dims[i] < 0 || (i > 0 && dims[i] == 0))
            {
                throw new DataFileException(file.Path, $"has dimension {i} = {dims[i]} in its IDX header, expected > 0");
            }
        }

        return (header, dims);
    }

    /// <summary>
    /// Reads exactly the payload the header declares straight into a uint8 tensor of <paramref name="shape"/>,
    /// refusing less, more, or an incomplete gzip stream. A payload the file cannot hold (more than its size, or
    /// more than deflate's largest expansion of 1032:1) is refused before anything is allocated.
    /// </summary>
    private static Tensor ReadPayload(DecodedFile file, byte[] header, long[] shape, string what)
    {
        var payload = shape.Aggregate(1L, (a, b) => a * b);
        var expected = header.Length + payload;
        var layout = $"{header.Length}-byte header + {what}";
        var most = file.Gzipped ? MaxDeflateRatio * file.FileLength : file.FileLength;
        if (expected > most)
        {
            throw new DataFileException(
                file.Path,
                file.Gzipped
                    ? string.Create(CultureInfo.InvariantCulture, $"is truncated: its {file.FileLength:N0} compressed bytes cannot hold the {expected:N0} bytes its IDX header declares ({layout}; deflate expands at most {MaxDeflateRatio}:1)")
                    : $"is truncated: {file.FileLength} bytes, expected {expected} ({layout})");
        }

        var data = empty(shape, ScalarType.Byte);
        try
        {
            long got = 0;
            while (got < payload)
            {
                var want = (int)Math.Min(1 << 24, payload - got);
                var read = file.Fill(TensorMemory.Bytes(data, got, want));
                got += read;
                if (read < want)
                {
                    break;
                }
            }

            uint CrcFrom(long start)
            {
                var crc = new Crc32();
                crc.Append(header.AsSpan((int)Math.Min(start, header.Length)));
                TensorMemory.AppendTo(ref crc, data, Math.Max(0, start - header.Length), got);
                return crc.Value;
            }

            if (got < payload)
            {
                throw new DataFileException(
                    file.Path,
                    file.GzipEndProblem(header.Length + got, CrcFrom) is { } broken
                        ? string.Create(CultureInfo.InvariantCulture, $"{broken}; its IDX header declares {expected:N0} bytes ({layout})")
                        : $"is truncated: {header.Length + got} bytes{Decompressed(file)}, expected {expected} ({layout})");
            }

            if (file.HasMore())
            {
                throw new DataFileException(
                    file.Path,
                    file.Gzipped
                        ? $"is too long: it decompresses to more than {expected} bytes, expected {expected} ({layout}); data beyond what the header declares is refused"
                        : $"is too long: {file.FileLength} bytes, expected {expected} ({layout}); {file.FileLength - expected} bytes would be ignored");
            }

            if (file.GzipEndProblem(expected, CrcFrom) is { } problem)
            {
                throw new DataFileException(file.Path, problem);
            }

            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    private static string Decompressed(DecodedFile file) => file.Gzipped ? " after decompression" : string.Empty;
}
