namespace Snn.Core.Data;

/// <summary>
/// The files of one image-folder split (&lt;split&gt;/&lt;class&gt;/*.jpg|*.jpeg|*.png), listed without reading
/// any image: classes are the sub-folders sorted by ordinal name (label k = k-th folder) and files in a class
/// are in ordinal name order. The classes are interleaved in proportion to their sizes: file j of the n_k files
/// of class k sits at position (j + 1/2) / n_k of the split (ties by label), so every contiguous range of the
/// index (the held-out tail, the first N images of a subset) holds the classes in about their overall
/// proportions, rather than a few whole classes. Image i is the same file on every run (no seed).
/// </summary>
public sealed class ImageFolderIndex
{
    /// <summary>The file extensions accepted as images (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".jpg", ".jpeg", ".png"];

    private ImageFolderIndex(string folder, IReadOnlyList<string> classNames, string[] files, int[] labels)
    {
        Folder = folder;
        ClassNames = classNames;
        Files = files;
        Labels = labels;
    }

    /// <summary>The split folder.</summary>
    public string Folder { get; }

    /// <summary>The class names (sub-folder names), indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The image paths, class by class, each class in ordinal name order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The label of each file, in [0, ClassNames.Count).</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>The number of images N.</summary>
    public int Count => Files.Count;

    /// <summary>Lists a split folder and checks its layout.</summary>
    /// <param name="folder">A split folder whose sub-folders are the classes, each holding at least one image.</param>
    /// <exception cref="DataFileException">
    /// The folder is missing or has no class folders; a class folder is empty; a file that is not a class
    /// folder sits in the split folder; a class holds a file without an image extension.
    /// </exception>
    public static ImageFolderIndex Build(string folder)
    {
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

        var files = new List<string>();
        var labels = new List<int>();
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

                files.Add(file);
                labels.Add(k);
            }
        }

        var names = classFolders.Select(d => Path.GetFileName(d)!).ToArray();
        var order = Interleaved(labels, classFolders.Length);
        return new ImageFolderIndex(folder, names, [.. order.Select(i => files[i])], [.. order.Select(i => labels[i])]);
    }

    /// <summary>
    /// A range [start, start + count) of this index as a new index (same classes); used for streamed subsets.
    /// </summary>
    /// <param name="start">First image, in [0, N].</param>
    /// <param name="count">Images, in [0, N - start].</param>
    public ImageFolderIndex Range(int start, int count)
    {
        if (start < 0 || start > Count || count < 0 || count > Count - start)
        {
            throw new ArgumentException($"[{start}, {start + count}) is out of range: expected within [0, {Count}]", nameof(start));
        }

        return new ImageFolderIndex(Folder, ClassNames, [.. Files.Skip(start).Take(count)], [.. Labels.Skip(start).Take(count)]);
    }

    /// <summary>
    /// Requires <paramref name="other"/> (e.g. the validation split) to have exactly this split's class names:
    /// labels are folder positions, so a different set of names would silently give images wrong labels.
    /// </summary>
    /// <param name="other">The other split's index.</param>
    /// <exception cref="DataFileException">The class names differ; the message lists the names only one split has.</exception>
    public void RequireSameClasses(ImageFolderIndex other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ClassNames.SequenceEqual(other.ClassNames, StringComparer.Ordinal))
        {
            return;
        }

        static string List(IEnumerable<string> names)
        {
            var all = names.ToArray();
            var shown = string.Join(", ", all.Take(10));
            return all.Length == 0 ? "none" : all.Length > 10 ? $"{shown}, ... ({all.Length} in all)" : shown;
        }

        var onlyHere = ClassNames.Except(other.ClassNames, StringComparer.Ordinal);
        var onlyThere = other.ClassNames.Except(ClassNames, StringComparer.Ordinal);
        throw new DataFileException(
            other.Folder,
            $"has {other.ClassNames.Count} class folders that differ from the {ClassNames.Count} of {Folder}: expected the same class " +
            $"names in both splits (labels are folder positions). Only in {Path.GetFileName(Folder)}: {List(onlyHere)}; " +
            $"only in {Path.GetFileName(other.Folder)}: {List(onlyThere)}");
    }

    /// <summary>
    /// The positions of class-ordered files (labels ascending, n_k files of class k) in interleaved order:
    /// sorted by (2j + 1) / (2 n_k) for file j of class k, compared exactly as (2j + 1) n_l against (2i + 1) n_k,
    /// ties by label.
    /// </summary>
    private static int[] Interleaved(List<int> labels, int classes)
    {
        var sizes = new long[classes];
        var within = new long[labels.Count];
        for (var i = 0; i < labels.Count; i++)
        {
            within[i] = sizes[labels[i]]++;
        }

        var order = Enumerable.Range(0, labels.Count).ToArray();
        Array.Sort(order, (a, b) =>
        {
            var (ka, kb) = (labels[a], labels[b]);
            var left = ((2 * within[a]) + 1) * sizes[kb];
            var right = ((2 * within[b]) + 1) * sizes[ka];
            return left != right ? left.CompareTo(right) : ka != kb ? ka.CompareTo(kb) : within[a].CompareTo(within[b]);
        });
        return order;
    }
}
