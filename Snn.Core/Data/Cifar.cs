using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of the CIFAR-10 and CIFAR-100 binary versions. A file is a sequence of fixed-length records:
/// CIFAR-10: 1 label byte + 3072 pixel bytes; CIFAR-100: 1 coarse-label byte + 1 fine-label byte + 3072 pixel
/// bytes. The 3072 pixels are 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row by row,
/// so a record's pixels are already channel-first [3, 32, 32]. A file is read record by record up to the size
/// the file system reports, never beyond it.
/// </summary>
public static class Cifar
{
    /// <summary>Pixel bytes per record: 3 x 32 x 32.</summary>
    public const int PixelBytes = 3 * 32 * 32;

    /// <summary>The CIFAR-10 class names, indexed by label 0..9 (as in batches.meta.txt).</summary>
    public static readonly IReadOnlyList<string> Cifar10Classes =
    [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ];

    /// <summary>The CIFAR-10 training files, read in this order.</summary>
    public static readonly IReadOnlyList<string> Cifar10TrainFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>The CIFAR-10 test file.</summary>
    public const string Cifar10TestFile = "test_batch.bin";

    /// <summary>The folder name of the CIFAR-10 binary archive; accepted as a sub-folder of the given folder.</summary>
    public const string Cifar10Folder = "cifar-10-batches-bin";

    /// <summary>The folder name of the CIFAR-100 binary archive; accepted as a sub-folder of the given folder.</summary>
    public const string Cifar100Folder = "cifar-100-binary";

    /// <summary>The CIFAR-10 layout: five training batches, one test batch, 1 label byte, names in batches.meta.txt.</summary>
    internal static readonly CifarFormat Ten = new(
        Cifar10Folder, Cifar10TrainFiles, [Cifar10TestFile], LabelBytes: 1, LabelIndex: 0, "batches.meta.txt", Cifar10Classes, "cifar10");

    /// <summary>The CIFAR-100 layout with the 100 fine labels (record byte 1), names in fine_label_names.txt.</summary>
    internal static readonly CifarFormat Hundred = new(
        Cifar100Folder, ["train.bin"], ["test.bin"], LabelBytes: 2, LabelIndex: 1, "fine_label_names.txt",
        [.. Enumerable.Range(0, 100).Select(i => i.ToString())], "cifar100");

    /// <summary>The CIFAR-100 layout with the 20 coarse labels (record byte 0), names in coarse_label_names.txt.</summary>
    internal static readonly CifarFormat HundredCoarse = Hundred with
    {
        LabelIndex = 0,
        NamesFile = "coarse_label_names.txt",
        DefaultClasses = [.. Enumerable.Range(0, 20).Select(i => i.ToString())],
    };

    /// <summary>
    /// Reads CIFAR-10: the five training batches concatenated (train) or test_batch.bin (test).
    /// Class names come from batches.meta.txt when it is present, else the standard ten names.
    /// </summary>
    /// <param name="folder">A folder holding the .bin files, or its parent holding cifar-10-batches-bin/.</param>
    /// <param name="train">true for data_batch_1..5.bin, false for test_batch.bin.</param>
    /// <exception cref="DataFileException">A missing file, a size that is not a multiple of 3073 bytes, or a label outside 0..9.</exception>
    public static ImageDataset Read10(string folder, bool train) => Read(Ten, folder, train);

    /// <summary>
    /// Reads CIFAR-100 (train.bin or test.bin). Labels are the 100 fine labels, or the 20 coarse ones when
    /// <paramref name="coarse"/> is true. Class names come from fine_label_names.txt / coarse_label_names.txt
    /// when present, else "0".."99" / "0".."19".
    /// </summary>
    /// <param name="folder">A folder holding train.bin and test.bin, or its parent holding cifar-100-binary/.</param>
    /// <param name="train">true for train.bin, false for test.bin.</param>
    /// <param name="coarse">true for the 20 superclass labels (record byte 0), false for the 100 fine labels (byte 1).</param>
    /// <exception cref="DataFileException">A missing file, a size that is not a multiple of 3074 bytes, or a label out of range.</exception>
    public static ImageDataset Read100(string folder, bool train, bool coarse = false) =>
        Read(coarse ? HundredCoarse : Hundred, folder, train);

    /// <summary>Reads the training or test records of a CIFAR layout straight into the dataset's tensors.</summary>
    internal static ImageDataset Read(CifarFormat format, string folder, bool train)
    {
        var dir = format.Resolve(folder);
        var classes = format.ClassNames(dir);
        var files = format.Sizes(dir, train);
        var n = files.Sum(f => (long)f.Records);
        var pixels = empty([n, 3, 32, 32], ScalarType.Byte);
        var labels = empty([n], ScalarType.Int64);
        try
        {
            long i = 0;
            foreach (var (path, records) in files)
            {
                i = ReadRecords(format, path, records, classes.Count, pixels, labels, i);
            }

            var name = format.Name + "/" + (train ? "train" : "test");
            return new ImageDataset(name, pixels, labels, classes);
        }
        catch
        {
            pixels.Dispose();
            labels.Dispose();
            throw;
        }
    }

    private static long ReadRecords(CifarFormat format, string path, int records, int classes, Tensor pixels, Tensor labels, long i)
    {
        const int chunkRecords = 256;
        var record = format.RecordBytes;
        var chunk = new byte[record * chunkRecords];
        using var stream = DataFiles.OpenRegular(path, out _);
        for (var r = 0; r < records;)
        {
            var count = Math.Min(chunkRecords, records - r);
            stream.ReadExactly(chunk.AsSpan(0, count * record));
            var target = TensorMemory.Bytes(pixels, i * PixelBytes, count * PixelBytes);
            var labelTarget = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(TensorMemory.Bytes(labels, i * sizeof(long), count * sizeof(long)));
            for (var k = 0; k < count; k++, r++, i++)
            {
                var offset = k * record;
                var label = chunk[offset + format.LabelIndex];
                if (label >= classes)
                {
                    throw new DataFileException(path, $"record {r} has label {label}, expected 0..{classes - 1}");
                }

                labelTarget[k] = label;
                chunk.AsSpan(offset + format.LabelBytes, PixelBytes).CopyTo(target.Slice(k * PixelBytes, PixelBytes));
            }
        }

        stream.ExpectEnd();
        return i;
    }
}

/// <summary>A CIFAR binary layout: its archive folder, files, label bytes per record and class names.</summary>
/// <param name="ArchiveFolder">The archive's folder name, accepted as a sub-folder of the given folder.</param>
/// <param name="TrainFiles">The training files, read in this order.</param>
/// <param name="TestFiles">The test files.</param>
/// <param name="LabelBytes">Label bytes before the 3072 pixel bytes of a record (1 or 2).</param>
/// <param name="LabelIndex">Which label byte is the label, in [0, LabelBytes).</param>
/// <param name="NamesFile">The optional file of class names, one per line.</param>
/// <param name="DefaultClasses">The class names when <paramref name="NamesFile"/> is absent.</param>
/// <param name="Name">The dataset name used in split names ("cifar10/train").</param>
internal sealed record CifarFormat(
    string ArchiveFolder, IReadOnlyList<string> TrainFiles, IReadOnlyList<string> TestFiles, int LabelBytes, int LabelIndex,
    string NamesFile, IReadOnlyList<string> DefaultClasses, string Name)
{
    /// <summary>Bytes per record: label bytes + 3072 pixel bytes.</summary>
    public int RecordBytes => LabelBytes + Cifar.PixelBytes;

    /// <summary>The folder holding the files: <paramref name="folder"/> itself, or its archive sub-folder.</summary>
    public string Resolve(string folder)
    {
        var nested = Path.Combine(folder, ArchiveFolder);
        return !File.Exists(Path.Combine(folder, TrainFiles[0])) && Directory.Exists(nested) ? nested : folder;
    }

    /// <summary>Class names from <see cref="NamesFile"/> when present (it must list exactly as many), else the defaults.</summary>
    public IReadOnlyList<string> ClassNames(string dir)
    {
        var path = Path.Combine(dir, NamesFile);
        if (!File.Exists(path))
        {
            return DefaultClasses;
        }

        var names = DataFiles.ReadLines(path);
        return names.Length == DefaultClasses.Count
            ? names
            : throw new DataFileException(path, $"lists {names.Length} class names, expected {DefaultClasses.Count} (one per line)");
    }

    /// <summary>Each training or test file with its record count, from file sizes (nothing is read).</summary>
    public IReadOnlyList<(string Path, int Records)> Sizes(string dir, bool train)
    {
        var files = train ? TrainFiles : TestFiles;
        var result = new List<(string, int)>();
        foreach (var file in files)
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path))
            {
                throw new DataFileException(path, $"not found: expected {string.Join(", ", files)} in {dir}");
            }

            var length = DataFiles.RegularLength(path);
            if (length % RecordBytes != 0 || length / RecordBytes > int.MaxValue)
            {
                throw new DataFileException(
                    path,
                    $"has {length} bytes, not a positive multiple of the {RecordBytes}-byte record " +
                    $"({LabelBytes} label byte{(LabelBytes > 1 ? "s" : "")} + {Cifar.PixelBytes} pixel bytes): " +
                    $"{length / RecordBytes} whole records and {length % RecordBytes} bytes left over");
            }

            result.Add((path, (int)(length / RecordBytes)));
        }

        return result;
    }
}
