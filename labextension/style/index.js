import './base.css';
import './visualization.css';
