using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Reader of the CIFAR-10 and CIFAR-100 binary versions. A file is a sequence of fixed-length records:
/// CIFAR-10: 1 label byte + 3072 pixel bytes; CIFAR-100: 1 coarse-label byte + 1 fine-label byte + 3072 pixel
/// bytes. The 3072 pixels are 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row by row,
/// so a record's pixels are already channel-first [3, 32, 32].
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

    /// <summary>
    /// Reads CIFAR-10: the five training batches concatenated (train) or test_batch.bin (test).
    /// Class names come from batches.meta.txt when it is present, else the standard ten names.
    /// </summary>
    /// <param name="folder">A folder holding the .bin files, or its parent holding cifar-10-batches-bin/.</param>
    /// <param name="train">true for data_batch_1..5.bin, false for test_batch.bin.</param>
    /// <exception cref="DataFileException">A missing file, a size that is not a multiple of 3073 bytes, or a label outside 0..9.</exception>
    public static ImageDataset Read10(string folder, bool train)
    {
        var dir = Resolve(folder, Cifar10Folder, Cifar10TrainFiles[0]);
        var files = train ? Cifar10TrainFiles : [Cifar10TestFile];
        var classes = ReadNames(Path.Combine(dir, "batches.meta.txt"), 10) ?? Cifar10Classes;
        return ReadRecords(dir, files, labelBytes: 1, labelIndex: 0, classes, "cifar10/" + (train ? "train" : "test"));
    }

    /// <summary>
    /// Reads CIFAR-100 (train.bin or test.bin). Labels are the 100 fine labels, or the 20 coarse ones when
    /// <paramref name="coarse"/> is true. Class names come from fine_label_names.txt / coarse_label_names.txt
    /// when present, else "0".."99" / "0".."19".
    /// </summary>
    /// <param name="folder">A folder holding train.bin and test.bin, or its parent holding cifar-100-binary/.</param>
    /// <param name="train">true for train.bin, false for test.bin.</param>
    /// <param name="coarse">true for the 20 superclass labels (record byte 0), false for the 100 fine labels (byte 1).</param>
    /// <exception cref="DataFileException">A missing file, a size that is not a multiple of 3074 bytes, or a label out of range.</exception>
    public static ImageDataset Read100(string folder, bool train, bool coarse = false)
    {
        var dir = Resolve(folder, Cifar100Folder, "train.bin");
        var k = coarse ? 20 : 100;
        var namesFile = Path.Combine(dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
        var classes = ReadNames(namesFile, k) ?? [.. Enumerable.Range(0, k).Select(i => i.ToString())];
        return ReadRecords(
            dir, [train ? "train.bin" : "test.bin"], labelBytes: 2, labelIndex: coarse ? 0 : 1, classes,
            "cifar100/" + (train ? "train" : "test"));
    }

    private static string Resolve(string folder, string archiveFolder, string marker)
    {
        var nested = Path.Combine(folder, archiveFolder);
        return !File.Exists(Path.Combine(folder, marker)) && Directory.Exists(nested) ? nested : folder;
    }

    private static IReadOnlyList<string>? ReadNames(string path, int count)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var names = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length == count
            ? names
            : throw new DataFileException(path, $"lists {names.Length} class names, expected {count} (one per line)");
    }

    private static ImageDataset ReadRecords(
        string dir, IReadOnlyList<string> files, int labelBytes, int labelIndex, IReadOnlyList<string> classes, string name)
    {
        var record = labelBytes + PixelBytes;
        var contents = new List<(string Path, byte[] Bytes)>();
        foreach (var file in files)
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path))
            {
                throw new DataFileException(path, $"not found: expected {string.Join(", ", files)} in {dir}");
            }

            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % record != 0)
            {
                throw new DataFileException(
                    path,
                    $"has {bytes.Length} bytes, not a positive multiple of the {record}-byte record " +
                    $"({labelBytes} label byte{(labelBytes > 1 ? "s" : "")} + {PixelBytes} pixel bytes): " +
                    $"{bytes.Length / record} whole records and {bytes.Length % record} bytes left over");
            }

            contents.Add((path, bytes));
        }

        var n = contents.Sum(c => c.Bytes.Length / record);
        var pixels = new byte[(long)n * PixelBytes];
        var labels = new long[n];
        var i = 0;
        foreach (var (path, bytes) in contents)
        {
            for (var r = 0; r < bytes.Length / record; r++, i++)
            {
                var offset = r * record;
                labels[i] = bytes[offset + labelIndex];
                if (labels[i] >= classes.Count)
                {
                    throw new DataFileException(path, $"record {r} has label {labels[i]}, expected 0..{classes.Count - 1}");
                }

                Buffer.BlockCopy(bytes, offset + labelBytes, pixels, i * PixelBytes, PixelBytes);
            }
        }

        return new ImageDataset(name, tensor(pixels, [n, 3, 32, 32]), tensor(labels, [n]), classes);
    }
}
