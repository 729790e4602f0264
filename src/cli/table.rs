//! The one table printer every CLI listing uses: a header row, then the rows, each column as
//! wide as its widest cell. Widths count characters, not bytes, so "Instalación" or
//! "José Peña" line up like ASCII. The last column is left unpadded so lines carry no
//! trailing blanks.

/// How a column's cells sit in its width: text to the left, figures to the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

/// Two spaces between columns: one would let a cell ending in a space read as two columns.
const GAP: &str = "  ";

impl Table {
    /// Columns named by their Spanish headers, all left-aligned until `align` says otherwise.
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            align: vec![Align::Left; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Sets each column's alignment, in header order.
    pub fn align(mut self, align: &[Align]) -> Self {
        debug_assert_eq!(align.len(), self.headers.len());
        self.align = align.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// The header line and every row, each ending in a newline.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let last = self.headers.len().saturating_sub(1);
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    out.push_str(GAP);
                }
                let pad = " ".repeat(widths[i] - width(cell));
                match self.align[i] {
                    Align::Right => {
                        out.push_str(&pad);
                        out.push_str(cell);
                    }
                    Align::Left if i == last => out.push_str(cell),
                    Align::Left => {
                        out.push_str(cell);
                        out.push_str(&pad);
                    }
                }
            }
            out.push('\n');
            out
        };
        let mut out = line(&mut self.headers.iter().copied());
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell_counted_in_characters() {
        let mut t = Table::new(&["CASO", "SOLICITANTE", "ASUNTO"]);
        t.row(vec![
            "REQ-1".into(),
            "josé.peña@example.test".into(),
            "Impresora".into(),
        ]);
        t.row(vec!["REQ-10".into(), "a@b.co".into(), "Instalación".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CASO    SOLICITANTE             ASUNTO");
        assert_eq!(lines[1], "REQ-1   josé.peña@example.test  Impresora");
        assert_eq!(lines[2], "REQ-10  a@b.co                  Instalación");
    }

    #[test]
    fn right_aligned_figures_and_no_trailing_blanks() {
        let mut t = Table::new(&["ID", "ESTADO"]).align(&[Align::Right, Align::Left]);
        t.row(vec!["7".into(), "sent".into()]);
        t.row(vec!["123".into(), "failed".into()]);
        let text = t.render();
        assert_eq!(text, " ID  ESTADO\n  7  sent\n123  failed\n");
    }
}
