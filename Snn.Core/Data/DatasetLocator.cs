namespace Snn.Core.Data;

/// <summary>
/// Finds the folder of a dataset, in this order: (1) an explicit path (the --data option); (2) the environment
/// variable SNN_DATA; (3) the Debian package folder /usr/share/datasets/fashion-mnist (Fashion-MNIST only, package
/// dataset-fashion-mnist). A path in (1) or (2) may be the dataset folder itself or a parent holding it under its
/// conventional name (fashion-mnist, mnist, cifar-10-batches-bin, cifar-100-binary). Nothing is ever downloaded.
/// </summary>
public static class DatasetLocator
{
    /// <summary>The environment variable consulted after the explicit path.</summary>
    public const string EnvironmentVariable = "SNN_DATA";

    /// <summary>The folder where Debian's dataset-fashion-mnist package puts the four IDX .gz files.</summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Finds the dataset folder using the real environment variable and the Debian folder.</summary>
    /// <param name="explicitPath">A path given by the user (e.g. --data), or null/empty to skip step (1).</param>
    /// <param name="kind">The dataset to find.</param>
    /// <returns>A folder holding the dataset's files (see <see cref="ExpectedFiles"/>).</returns>
    /// <exception cref="DataFileException">
    /// An explicit or SNN_DATA path that does not hold the dataset, or nothing found; the message says how to get the data.
    /// </exception>
    public static string Locate(string? explicitPath, DatasetKind kind) =>
        Locate(explicitPath, kind, Environment.GetEnvironmentVariable(EnvironmentVariable), [DebianFashionMnistFolder]);

    /// <summary>
    /// Finds the dataset folder with the environment value and system folders given explicitly (for tests and
    /// embedding): explicit path, then <paramref name="environmentValue"/>, then each of
    /// <paramref name="systemFolders"/> (used for Fashion-MNIST only).
    /// </summary>
    /// <param name="explicitPath">A user-given path, or null/empty.</param>
    /// <param name="kind">The dataset to find.</param>
    /// <param name="environmentValue">The value of SNN_DATA, or null/empty.</param>
    /// <param name="systemFolders">Package folders tried last for Fashion-MNIST.</param>
    public static string Locate(string? explicitPath, DatasetKind kind, string? environmentValue, IReadOnlyList<string> systemFolders)
    {
        ArgumentNullException.ThrowIfNull(systemFolders);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return Match(explicitPath, kind)
                ?? throw new DataFileException(explicitPath, $"does not hold {Describe(kind)}: expected {ExpectedFiles(kind)}");
        }

        if (!string.IsNullOrEmpty(environmentValue))
        {
            return Match(environmentValue, kind)
                ?? throw new DataFileException(
                    environmentValue,
                    $"(from {EnvironmentVariable}) does not hold {Describe(kind)}: expected {ExpectedFiles(kind)}");
        }

        if (kind == DatasetKind.FashionMnist)
        {
            foreach (var folder in systemFolders)
            {
                if (Match(folder, kind) is { } found)
                {
                    return found;
                }
            }
        }

        throw new DataFileException(
            kind == DatasetKind.FashionMnist && systemFolders.Count > 0 ? systemFolders[0] : "(no data path)",
            $"{Describe(kind)} not found. {HowToGet(kind)}");
    }

    /// <summary>The files a folder of <paramref name="kind"/> must hold, as a sentence fragment.</summary>
    /// <param name="kind">The dataset kind.</param>
    public static string ExpectedFiles(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist or DatasetKind.Mnist =>
            string.Join(", ", Idx.FileNames) + " (each optionally gzipped, ending in .gz)",
        DatasetKind.Cifar10 =>
            string.Join(", ", Cifar.Cifar10TrainFiles) + $", {Cifar.Cifar10TestFile} (directly or under {Cifar.Cifar10Folder}/)",
        DatasetKind.Cifar100 => $"train.bin, test.bin (directly or under {Cifar.Cifar100Folder}/)",
        DatasetKind.ImageFolder => "train/<class>/*.jpg|png and val/<class>/... (or test/<class>/...)",
        _ => throw new ArgumentException($"{nameof(kind)} = {kind} is not a known dataset kind", nameof(kind)),
    };

    /// <summary>Instructions for obtaining the data, for error messages.</summary>
    /// <param name="kind">The dataset kind.</param>
    public static string HowToGet(DatasetKind kind)
    {
        var pointAt = $"pass --data PATH or set {EnvironmentVariable}=PATH to a folder holding {ExpectedFiles(kind)}";
        return kind == DatasetKind.FashionMnist
            ? $"Install it as root with 'apt-get install dataset-fashion-mnist' (files go to {DebianFashionMnistFolder}), or {pointAt}."
            : $"No package ships it here and nothing is downloaded: {pointAt}.";
    }

    private static string Describe(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => "Fashion-MNIST",
        DatasetKind.Mnist => "MNIST",
        DatasetKind.Cifar10 => "CIFAR-10 (binary version)",
        DatasetKind.Cifar100 => "CIFAR-100 (binary version)",
        _ => "an image-folder dataset",
    };

    private static string? Match(string path, DatasetKind kind)
    {
        if (Holds(path, kind))
        {
            return path;
        }

        var conventional = kind switch
        {
            DatasetKind.FashionMnist => "fashion-mnist",
            DatasetKind.Mnist => "mnist",
            DatasetKind.Cifar10 => Cifar.Cifar10Folder,
            DatasetKind.Cifar100 => Cifar.Cifar100Folder,
            _ => null,
        };
        var nested = conventional is null ? null : Path.Combine(path, conventional);
        return nested is not null && Holds(nested, kind) ? nested : null;
    }

    private static bool Holds(string folder, DatasetKind kind) => Directory.Exists(folder) && kind switch
    {
        DatasetKind.FashionMnist or DatasetKind.Mnist => Idx.FileNames.All(f => DataFiles.Find(folder, f) is not null),
        DatasetKind.Cifar10 => File.Exists(Path.Combine(folder, Cifar.Cifar10TestFile)),
        DatasetKind.Cifar100 => File.Exists(Path.Combine(folder, "test.bin")),
        DatasetKind.ImageFolder => Directory.Exists(Path.Combine(folder, "train")),
        _ => false,
    };
}
